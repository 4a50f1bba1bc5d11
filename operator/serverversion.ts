// Whether the API server supports native sidecars (init containers with restartPolicy Always,
// on by default since Kubernetes 1.29), from its /version. Anything unparsable counts as
// supported: every maintained Kubernetes release is newer than 1.29.
export function supportsNativeSidecars(version: { major?: string; minor?: string }): boolean {
  const major = Number.parseInt(version.major ?? "", 10);
  const minor = Number.parseInt(version.minor ?? "", 10);
  if (Number.isNaN(major) || Number.isNaN(minor)) return true;
  return major > 1 || minor >= 29;
}
