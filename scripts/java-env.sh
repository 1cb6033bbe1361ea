# Sourced by ./tributary and ./run-tests: finds a JDK 25 (or newer) and sets JAVA_HOME and MAVEN_OPTS.
# Order: $TRIBUTARY_JAVA_HOME, then $JAVA_HOME when it is 25+, then JDKs under /usr/lib/jvm.

tributary_java_major() {
    local rel="$1/release" v
    [[ -x "$1/bin/java" && -f "$rel" ]] || return 1
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel")
    [[ -n "$v" ]] && echo "$v"
}

tributary_find_jdk() {
    local c m
    for c in "${TRIBUTARY_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
        [[ -n "$c" && -d "$c" ]] || continue
        m=$(tributary_java_major "$c") || continue
        if (( m >= 25 )); then
            echo "$c"
            return 0
        fi
    done
    return 1
}

if ! TRIBUTARY_JDK=$(tributary_find_jdk); then
    echo "error: no JDK 25 found (looked at \$TRIBUTARY_JAVA_HOME, \$JAVA_HOME and /usr/lib/jvm); install one, e.g. Temurin 25, or set TRIBUTARY_JAVA_HOME" >&2
    exit 1
fi
export JAVA_HOME="$TRIBUTARY_JDK"
export PATH="$JAVA_HOME/bin:$PATH"
# Maven's own libraries call sun.misc.Unsafe; JDK 24+ warns about it on every build.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
# Flags every Tributary JVM needs: the incubating vector API, the foreign memory API, offline DJL.
TRIBUTARY_JVM_FLAGS=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED
    --sun-misc-unsafe-memory-access=allow -Dai.djl.offline=true)
