#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script (run as `bash -eux $SRC/build.sh`). Honours CXX,
# CXXFLAGS, LIB_FUZZING_ENGINE, OUT, SRC and WORK (ramstream is C++ only: CC and CFLAGS have
# nothing to compile). Builds out of tree in $WORK, never writing into $SRC (coverage reads it),
# and puts into $OUT, for every target:
#   <target>                  linked with $LIB_FUZZING_ENGINE (a flag or a library path)
#   <target>.dict             fuzz/dicts/<target>.dict
#   <target>.options          fuzz/options/<target>.options
#   <target>_seed_corpus.zip  corpus/<target>/*
# Locally, without Docker: scripts/check-build --build (sets these variables the way OSS-Fuzz
# does, for clang-14, and runs this script).
#
# RAMSTREAM_SRC overrides where the source tree is (default $SRC/ramstream).

src=${RAMSTREAM_SRC:-$SRC/ramstream}
build=$WORK/ramstream-build

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

# The proto fuzzer links protobuf, which must be built with the same C++ library as the
# targets: OSS-Fuzz compiles with -stdlib=libc++ while the distribution's libprotobuf uses
# libstdc++, so it is only built when CXXFLAGS keep the default library.
proto=ON
if [[ " $CXXFLAGS " == *" -stdlib=libc++ "* ]]; then proto=OFF; fi

# CMAKE_BUILD_TYPE OssFuzz has no flags of its own: the compile lines are exactly
# $CXX $CXXFLAGS (sanitizers, coverage and -fsanitize=fuzzer-no-link included by the caller).
cmake -S "$src" -B "$build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=OssFuzz \
  -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DRAMSTREAM_BUILD_FUZZERS=ON -DRAMSTREAM_BUILD_TESTS=OFF -DRAMSTREAM_BUILD_BENCH=OFF \
  -DRAMSTREAM_WERROR=OFF -DRAMSTREAM_FUZZ_REGISTER_TESTS=OFF \
  -DRAMSTREAM_FUZZ_ENGINE=external -DRAMSTREAM_LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" \
  -DRAMSTREAM_FUZZ_PROTO="$proto" \
  -DZLIB_USE_STATIC_LIBS=ON
cmake --build "$build" --target fuzzers -j"$(nproc)"

targets=0
for cc in "$src"/fuzz/*_fuzzer.cc; do
  t=$(basename "$cc" .cc)
  [[ -x $build/fuzz/$t ]] || continue
  cp "$build/fuzz/$t" "$OUT/"
  [[ -f $src/fuzz/dicts/$t.dict ]] && cp -L "$src/fuzz/dicts/$t.dict" "$OUT/$t.dict"
  [[ -f $src/fuzz/options/$t.options ]] && cp -L "$src/fuzz/options/$t.options" "$OUT/$t.options"
  if [[ -d $src/corpus/$t ]]; then
    rm -f "$OUT/${t}_seed_corpus.zip"
    (cd "$src/corpus/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
  fi
  targets=$((targets + 1))
done
if ((targets == 0)); then
  echo "build.sh: no fuzz targets were built" >&2
  exit 1
fi
echo "build.sh: $targets fuzz targets in $OUT"
