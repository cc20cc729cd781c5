# The one place that owns the project's warning list. Every target links
# a0_warnings; A0_WERROR (on in CI) turns the list into errors.
include(CheckCCompilerFlag)
add_library(a0_warnings INTERFACE)

set(a0_warn_common
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wmissing-declarations -Wold-style-definition
    -Wwrite-strings -Wformat=2 -Wpointer-arith -Wundef -Wvla
    -Wimplicit-fallthrough -Wredundant-decls -Wnested-externs
    -Wbad-function-cast -Wfloat-equal -Wno-sign-conversion
    -Wno-format-nonliteral)
set(a0_warn_gcc
    -Wlogical-op -Wduplicated-cond -Wduplicated-branches
    -Wjump-misses-init -Wrestrict -Walloc-zero)
set(a0_warn_clang
    -Wcomma -Wassign-enum -Wconditional-uninitialized)

set(a0_warn ${a0_warn_common})
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
    list(APPEND a0_warn ${a0_warn_gcc})
elseif(CMAKE_C_COMPILER_ID MATCHES "Clang")
    list(APPEND a0_warn ${a0_warn_clang})
endif()

foreach(flag IN LISTS a0_warn)
    string(MAKE_C_IDENTIFIER "A0_HAS${flag}" var)
    check_c_compiler_flag(${flag} ${var})
    if(${var})
        target_compile_options(a0_warnings INTERFACE ${flag})
    endif()
endforeach()

if(A0_WERROR)
    target_compile_options(a0_warnings INTERFACE -Werror)
endif()
