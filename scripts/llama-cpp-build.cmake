# Run after each project() of the llama-cpp-python build (scripts/setup.sh passes it as CMAKE_PROJECT_INCLUDE).
# llama-cpp-python forces llama.cpp's "common" library on (and with it an HTTP client), which its Python
# package never loads: it calls libllama and ggml only. Switched off again as llama.cpp's own project starts,
# it is not compiled (a third of the build's files, and its slowest).
set(LLAMA_BUILD_COMMON OFF CACHE BOOL "llama.cpp: build the common utils library" FORCE)
