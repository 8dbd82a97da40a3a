# beibu_proto_library(NAME PROTOS a.proto b.proto [GRPC] [DEPS libs] [IMPORT_DIRS dirs])
# Generates C++ (and gRPC stubs with GRPC) from proto/ into the build tree.
function(beibu_proto_library name)
  cmake_parse_arguments(ARG "GRPC" "" "PROTOS;DEPS;IMPORT_DIRS" ${ARGN})
  add_library(${name} ${ARG_PROTOS})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  set(out ${CMAKE_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out})
  target_include_directories(${name} PUBLIC ${out})
  protobuf_generate(TARGET ${name} LANGUAGE cpp
    IMPORT_DIRS ${PROJECT_SOURCE_DIR}/proto ${ARG_IMPORT_DIRS}
    PROTOC_OUT_DIR ${out})
  if(ARG_GRPC)
    target_link_libraries(${name} PUBLIC gRPC::grpc++)
    protobuf_generate(TARGET ${name} LANGUAGE grpc
      GENERATE_EXTENSIONS .grpc.pb.h .grpc.pb.cc
      PLUGIN protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
      IMPORT_DIRS ${PROJECT_SOURCE_DIR}/proto ${ARG_IMPORT_DIRS}
      PROTOC_OUT_DIR ${out})
  endif()
endfunction()
