import packageJson from '../../package.json' with { type: 'json' };

/**
 * The image `irsa-doctor pod` and `job` start when --image is not given: the release of this very version,
 * built from the Dockerfile for linux/amd64 and linux/arm64 (README, "The image"). The one place that names it.
 */
export const IMAGE_REPOSITORY = 'ghcr.io/irsa-doctor/irsa-doctor';
export const DEFAULT_IMAGE = `${IMAGE_REPOSITORY}:${packageJson.version}`;
