# (Named to sort after formats.cmake, whose target it needs.)
# AuditLog: audit events in the Merkle log plus the node's signed checkpoints;
# AuditJournal: a hop's events staged in its own store, then appended.
if(TARGET beibu_audit_log AND TARGET beibu_audit_formats)
  add_library(beibu_audit src/audit_log.cc src/audit_journal.cc)
  target_link_libraries(beibu_audit PUBLIC beibu_audit_log beibu_audit_formats beibu_proto_audit
    beibu_config beibu_storage spdlog::spdlog)
endif()
