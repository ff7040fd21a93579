file(REMOVE_RECURSE
  "CMakeFiles/rl_testsupport.dir/support/fake_clock.c.o"
  "CMakeFiles/rl_testsupport.dir/support/fake_clock.c.o.d"
  "librl_testsupport.a"
  "librl_testsupport.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/rl_testsupport.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
