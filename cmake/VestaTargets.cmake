# Shared compile settings for Vesta's own targets: warnings as errors and the
# sanitizer selected by VESTA_SANITIZE.

set(VESTA_SANITIZE_FLAGS "")
if(VESTA_SANITIZE STREQUAL "address")
  set(VESTA_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
                           -fno-omit-frame-pointer)
elseif(VESTA_SANITIZE STREQUAL "thread")
  set(VESTA_SANITIZE_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
  # Boost.Asio uses std::atomic_thread_fence, which GCC's -Wtsan flags because
  # TSan does not model fences; the sanitizer still checks every access.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    list(APPEND VESTA_SANITIZE_FLAGS -Wno-tsan)
  endif()
elseif(NOT VESTA_SANITIZE STREQUAL "")
  message(FATAL_ERROR "VESTA_SANITIZE must be '', address or thread (got '${VESTA_SANITIZE}')")
endif()
if(VESTA_SANITIZE_FLAGS)
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:${VESTA_SANITIZE_FLAGS}>")
  add_link_options(${VESTA_SANITIZE_FLAGS})
endif()

# GCC 12 reports -Wmaybe-uninitialized and -Wrestrict inside libstdc++'s
# std::variant and std::string at -O2/-O3 where nothing is wrong (GCC PR105651,
# PR107138); they stay off for GCC < 13 so that -Werror keeps meaning "our bug".
set(VESTA_GCC12_FALSE_POSITIVES "")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  set(VESTA_GCC12_FALSE_POSITIVES -Wno-maybe-uninitialized -Wno-restrict)
endif()

# Applies Vesta's warning policy to one of our own targets.
function(vesta_target_defaults target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror ${VESTA_GCC12_FALSE_POSITIVES}>
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings --Wno-deprecated-gpu-targets
                              -Xcompiler=-Wall,-Wextra,-Werror>)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
endfunction()
