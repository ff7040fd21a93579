# version.cmake - reloadd's one version scheme, run at every build
#   cmake -DSRC=<source dir> -DOUT=<header> [-DFIXED=<version>] -P version.cmake
#   cmake -DSRC=<source dir> -DPRINT=1 -P version.cmake     (prints it: scripts/image.sh)
#
# The version is the VERSION file's (the chart's appVersion and the image
# tag the manifests use, kept equal by scripts/release.sh and checked by
# tests/deploy/check.sh). A build of a commit tagged v<VERSION> with a
# clean tree, or of a tree without git (a source archive, `docker build .`),
# is that version; any other build is <VERSION>-dev.g<commit>[.dirty], a
# semver pre-release that is also a valid image tag. FIXED, when not empty,
# is the version instead. configure_file leaves the header untouched when
# the version did not change, so nothing is recompiled then.
file(STRINGS ${SRC}/VERSION RL_BASE LIMIT_COUNT 1)
string(STRIP "${RL_BASE}" RL_BASE)
if(NOT RL_BASE)
  set(RL_BASE "0.0.0")
endif()
if(FIXED)
  set(RL_GIT_VERSION "${FIXED}")
else()
  execute_process(COMMAND git rev-parse --short=7 HEAD WORKING_DIRECTORY ${SRC}
                  OUTPUT_VARIABLE sha OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE no_git ERROR_QUIET)
  if(no_git OR NOT sha)
    set(RL_GIT_VERSION "${RL_BASE}")
  else()
    execute_process(COMMAND git describe --tags --exact-match --match "v${RL_BASE}" HEAD
                    WORKING_DIRECTORY ${SRC} RESULT_VARIABLE not_tagged
                    OUTPUT_QUIET ERROR_QUIET)
    execute_process(COMMAND git status --porcelain --untracked-files=no
                    WORKING_DIRECTORY ${SRC} OUTPUT_VARIABLE dirty
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(NOT not_tagged AND NOT dirty)
      set(RL_GIT_VERSION "${RL_BASE}")
    else()
      set(RL_GIT_VERSION "${RL_BASE}-dev.g${sha}")
      if(dirty)
        string(APPEND RL_GIT_VERSION ".dirty")
      endif()
    endif()
  endif()
endif()
if(PRINT)
  execute_process(COMMAND ${CMAKE_COMMAND} -E echo "${RL_GIT_VERSION}")
else()
  configure_file(${SRC}/cmake/version.h.in ${OUT} @ONLY)
endif()
