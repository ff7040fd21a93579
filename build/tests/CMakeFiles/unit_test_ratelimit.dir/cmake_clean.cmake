file(REMOVE_RECURSE
  "CMakeFiles/unit_test_ratelimit.dir/unit/test_ratelimit.c.o"
  "CMakeFiles/unit_test_ratelimit.dir/unit/test_ratelimit.c.o.d"
  "unit_test_ratelimit"
  "unit_test_ratelimit.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/unit_test_ratelimit.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
