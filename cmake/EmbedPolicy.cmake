# Placeholder (issue 4): generates a .cc defining beibu::policy::BaselineFiles()
# from the YAML files under a policy directory.
function(beibu_embed_policy dir out)
  file(WRITE ${out} "#include \"beibu/policy/database.h\"\nnamespace beibu::policy {\nconst PolicyFiles& BaselineFiles() { static const PolicyFiles* f = new PolicyFiles(); return *f; }\n}\n")
endfunction()
