file(REMOVE_RECURSE
  "librl_core.a"
)
