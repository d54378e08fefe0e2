#!/bin/bash -eu
# ClusterFuzzLite runs this as `bash -eux $SRC/build.sh`; the OSS-Fuzz build script is the one
# implementation of the contract (CXX, CXXFLAGS, LIB_FUZZING_ENGINE, OUT, SRC, WORK).
exec bash -eu "$SRC/ramstream/fuzz/oss-fuzz/build.sh"
