file(REMOVE_RECURSE
  "CMakeFiles/reloadd.dir/src/main.c.o"
  "CMakeFiles/reloadd.dir/src/main.c.o.d"
  "reloadd"
  "reloadd.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/reloadd.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
