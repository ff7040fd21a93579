# version.cmake - writes version.h from `git describe`, run at every build
# (cmake -DSRC=<source dir> -DOUT=<header> [-DFIXED=<version>] -P version.cmake).
# configure_file leaves the header untouched when the version did not
# change, so nothing is recompiled then; a new commit changes it without a
# re-configure. FIXED, when not empty, is the version instead.
if(FIXED)
  set(RL_GIT_VERSION "${FIXED}")
else()
  execute_process(COMMAND git describe --tags --always --dirty
                  WORKING_DIRECTORY ${SRC}
                  OUTPUT_VARIABLE RL_GIT_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
if(NOT RL_GIT_VERSION)
  set(RL_GIT_VERSION "0.0.0-unknown")
endif()
configure_file(${SRC}/cmake/version.h.in ${OUT} @ONLY)
