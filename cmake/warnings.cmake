# SPDX-License-Identifier: MIT
# Every target of ours calls dojosim_warnings(); CI builds with DOJOSIM_WERROR=ON.
function(dojosim_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
  if(DOJOSIM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
