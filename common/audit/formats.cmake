# beibu_audit_formats: log checkpoints (C2SP signed notes signed with SM2) and
# evidence receipts (docs/evidence.md). Pure code on crypto/pki/merkle and
# nlohmann-json, no RocksDB or gRPC: the fuzz build compiles the same sources
# into its targets (tests/fuzz/CMakeLists.txt). Include this file from
# common/audit/CMakeLists.txt; paths are relative to this file so it also
# works when included from elsewhere.
add_library(beibu_audit_formats
  ${CMAKE_CURRENT_LIST_DIR}/src/checkpoint.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/receipt.cc)
target_include_directories(beibu_audit_formats PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
target_link_libraries(beibu_audit_formats PUBLIC beibu_crypto beibu_pki beibu_merkle
                      nlohmann_json::nlohmann_json absl::status absl::statusor absl::strings)
