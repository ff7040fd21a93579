file(REMOVE_RECURSE
  "librl_testsupport.a"
)
