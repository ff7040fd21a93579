file(REMOVE_RECURSE
  "CMakeFiles/rl_core.dir/src/buf.c.o"
  "CMakeFiles/rl_core.dir/src/buf.c.o.d"
  "CMakeFiles/rl_core.dir/src/clock.c.o"
  "CMakeFiles/rl_core.dir/src/clock.c.o.d"
  "CMakeFiles/rl_core.dir/src/err.c.o"
  "CMakeFiles/rl_core.dir/src/err.c.o.d"
  "CMakeFiles/rl_core.dir/src/json.c.o"
  "CMakeFiles/rl_core.dir/src/json.c.o.d"
  "CMakeFiles/rl_core.dir/src/log.c.o"
  "CMakeFiles/rl_core.dir/src/log.c.o.d"
  "CMakeFiles/rl_core.dir/src/map.c.o"
  "CMakeFiles/rl_core.dir/src/map.c.o.d"
  "CMakeFiles/rl_core.dir/src/mem.c.o"
  "CMakeFiles/rl_core.dir/src/mem.c.o.d"
  "CMakeFiles/rl_core.dir/src/ratelimit.c.o"
  "CMakeFiles/rl_core.dir/src/ratelimit.c.o.d"
  "CMakeFiles/rl_core.dir/src/sync.c.o"
  "CMakeFiles/rl_core.dir/src/sync.c.o.d"
  "librl_core.a"
  "librl_core.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/rl_core.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
