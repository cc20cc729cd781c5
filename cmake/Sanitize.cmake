# A0_SANITIZE=address,undefined (or thread) instruments every target.
if(A0_SANITIZE)
    add_compile_options(-fsanitize=${A0_SANITIZE} -fno-omit-frame-pointer
        -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${A0_SANITIZE})
endif()
