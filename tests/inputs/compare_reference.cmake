# docs/input-reference.md must be exactly what `tessera check --reference` prints from the key tables.
execute_process(COMMAND ${TESSERA} check --reference OUTPUT_VARIABLE generated RESULT_VARIABLE code)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "tessera check --reference failed (${code})")
endif()
file(READ ${DOC} committed)
if(NOT generated STREQUAL committed)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/input-reference.generated.md "${generated}")
  message(FATAL_ERROR "docs/input-reference.md is out of date with the key tables. Regenerate it with\n"
                      "  build/bin/tessera check --reference > docs/input-reference.md\n"
                      "(generated copy: ${CMAKE_CURRENT_BINARY_DIR}/input-reference.generated.md)")
endif()
