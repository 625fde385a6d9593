// The standard variable names the SDKs read (docs/cli.md, "Environment"); nothing invented.
export const AWS_ROLE_ARN = 'AWS_ROLE_ARN';
export const AWS_WEB_IDENTITY_TOKEN_FILE = 'AWS_WEB_IDENTITY_TOKEN_FILE';
export const AWS_ROLE_SESSION_NAME = 'AWS_ROLE_SESSION_NAME';
export const AWS_REGION = 'AWS_REGION';
export const AWS_DEFAULT_REGION = 'AWS_DEFAULT_REGION';
export const AWS_STS_REGIONAL_ENDPOINTS = 'AWS_STS_REGIONAL_ENDPOINTS';
export const AWS_ENDPOINT_URL = 'AWS_ENDPOINT_URL';
export const AWS_ENDPOINT_URL_STS = 'AWS_ENDPOINT_URL_STS';
export const AWS_ENDPOINT_URL_IAM = 'AWS_ENDPOINT_URL_IAM';
export const AWS_CONTAINER_CREDENTIALS_FULL_URI = 'AWS_CONTAINER_CREDENTIALS_FULL_URI';
export const AWS_CONTAINER_CREDENTIALS_RELATIVE_URI = 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI';
export const AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE';
export const AWS_CONTAINER_AUTHORIZATION_TOKEN = 'AWS_CONTAINER_AUTHORIZATION_TOKEN';
export const AWS_EC2_METADATA_DISABLED = 'AWS_EC2_METADATA_DISABLED';
export const AWS_EC2_METADATA_SERVICE_ENDPOINT = 'AWS_EC2_METADATA_SERVICE_ENDPOINT';
export const AWS_ACCESS_KEY_ID = 'AWS_ACCESS_KEY_ID';
export const AWS_SECRET_ACCESS_KEY = 'AWS_SECRET_ACCESS_KEY';
export const AWS_SESSION_TOKEN = 'AWS_SESSION_TOKEN';
export const AWS_PROFILE = 'AWS_PROFILE';
export const AWS_SHARED_CREDENTIALS_FILE = 'AWS_SHARED_CREDENTIALS_FILE';
export const AWS_CONFIG_FILE = 'AWS_CONFIG_FILE';

/** Variables whose values are secrets: shown only masked, whatever the output mode. */
export const SECRET_ENV_NAMES: ReadonlySet<string> = new Set([
  AWS_SECRET_ACCESS_KEY,
  AWS_SESSION_TOKEN,
  AWS_CONTAINER_AUTHORIZATION_TOKEN,
  'AWS_SECURITY_TOKEN',
]);

/** Where the webhook mounts the tokens (docs/mechanics.md 1.2). */
export const IRSA_TOKEN_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';
export const POD_IDENTITY_TOKEN_PATH = '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token';
export const POD_IDENTITY_URI = 'http://169.254.170.23/v1/credentials';
export const IRSA_AUDIENCE = 'sts.amazonaws.com';
export const POD_IDENTITY_AUDIENCE = 'pods.eks.amazonaws.com';
/** The pod's own Kubernetes API credentials, mounted in every pod that automounts them. */
export const KUBE_SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
