# RL_SANITIZE=address,undefined or RL_SANITIZE=thread instruments everything.
if(RL_SANITIZE)
  add_compile_options(-fsanitize=${RL_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${RL_SANITIZE})
endif()
