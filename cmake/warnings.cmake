# Strict warnings for every target of ours; -Werror under RL_WERROR (CI).
function(rl_apply_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wcast-align -Wwrite-strings -Wformat=2 -Wundef
    -Wvla -Wnull-dereference -Wimplicit-fallthrough -Wno-unused-parameter
    $<$<C_COMPILER_ID:GNU>:-Wlogical-op -Wduplicated-cond>)
  if(RL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
