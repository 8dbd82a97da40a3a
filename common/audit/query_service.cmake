# The regulator audit API (audit_query_service.h) over a node's AuditLog.
# (Named to sort after node_audit.cmake, whose beibu_audit target it needs.)
if(TARGET beibu_audit AND TARGET beibu_proto AND NOT BEIBU_FUZZ)
  # beibu_rpc is defined later (common/rpc); linking by name resolves it.
  add_library(beibu_audit_query ${CMAKE_CURRENT_LIST_DIR}/src/audit_query_service.cc)
  target_include_directories(beibu_audit_query PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
  target_link_libraries(beibu_audit_query PUBLIC beibu_audit beibu_rpc beibu_proto
    PRIVATE nlohmann_json::nlohmann_json absl::strings spdlog::spdlog)
endif()
