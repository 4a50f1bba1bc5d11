#!/usr/bin/env bash
# Resolves the Apache Kafka broker classpath pinned in pom.xml from Maven Central into
# $AUDITREADY_CACHE/kafka-<version>/libs and prints that folder. Cached: a complete folder
# (marked by .complete) is reused as is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../env.sh
source "$here/../env.sh"
need java "to run the test Kafka broker (JDK >= 17)"
need mvn "to resolve Apache Kafka from Maven Central (Maven >= 3.6)"
version=$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' "$here/pom.xml")
dir="$AUDITREADY_CACHE/kafka-$version"
if [ ! -f "$dir/.complete" ]; then
  echo "kafka/fetch.sh: resolving Apache Kafka $version from Maven Central (first run only)" >&2
  rm -rf "$dir/libs"
  mvn -B -q -f "$here/pom.xml" -Dmaven.repo.local="$AUDITREADY_CACHE/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir/libs" >&2
  ls "$dir/libs"/kafka_2.13-"$version".jar >/dev/null
  touch "$dir/.complete"
fi
echo "$dir/libs"
