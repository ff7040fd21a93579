file(REMOVE_RECURSE
  "CMakeFiles/unit_test_foundation.dir/unit/test_foundation.c.o"
  "CMakeFiles/unit_test_foundation.dir/unit/test_foundation.c.o.d"
  "unit_test_foundation"
  "unit_test_foundation.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/unit_test_foundation.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
