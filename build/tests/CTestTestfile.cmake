# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[unit_test_foundation]=] "/work/main/build/tests/unit_test_foundation" "--jobs=2" "--ascii")
set_tests_properties([=[unit_test_foundation]=] PROPERTIES  LABELS "unit" TIMEOUT "900" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;20;add_test;/work/main/tests/CMakeLists.txt;25;rl_add_tests;/work/main/tests/CMakeLists.txt;0;")
add_test([=[unit_test_ratelimit]=] "/work/main/build/tests/unit_test_ratelimit" "--jobs=2" "--ascii")
set_tests_properties([=[unit_test_ratelimit]=] PROPERTIES  LABELS "unit" TIMEOUT "900" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;20;add_test;/work/main/tests/CMakeLists.txt;25;rl_add_tests;/work/main/tests/CMakeLists.txt;0;")
