
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/buf.c" "CMakeFiles/rl_core.dir/src/buf.c.o" "gcc" "CMakeFiles/rl_core.dir/src/buf.c.o.d"
  "/work/main/src/clock.c" "CMakeFiles/rl_core.dir/src/clock.c.o" "gcc" "CMakeFiles/rl_core.dir/src/clock.c.o.d"
  "/work/main/src/err.c" "CMakeFiles/rl_core.dir/src/err.c.o" "gcc" "CMakeFiles/rl_core.dir/src/err.c.o.d"
  "/work/main/src/json.c" "CMakeFiles/rl_core.dir/src/json.c.o" "gcc" "CMakeFiles/rl_core.dir/src/json.c.o.d"
  "/work/main/src/log.c" "CMakeFiles/rl_core.dir/src/log.c.o" "gcc" "CMakeFiles/rl_core.dir/src/log.c.o.d"
  "/work/main/src/map.c" "CMakeFiles/rl_core.dir/src/map.c.o" "gcc" "CMakeFiles/rl_core.dir/src/map.c.o.d"
  "/work/main/src/mem.c" "CMakeFiles/rl_core.dir/src/mem.c.o" "gcc" "CMakeFiles/rl_core.dir/src/mem.c.o.d"
  "/work/main/src/ratelimit.c" "CMakeFiles/rl_core.dir/src/ratelimit.c.o" "gcc" "CMakeFiles/rl_core.dir/src/ratelimit.c.o.d"
  "/work/main/src/sync.c" "CMakeFiles/rl_core.dir/src/sync.c.o" "gcc" "CMakeFiles/rl_core.dir/src/sync.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
