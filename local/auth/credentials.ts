/**
 * The local stack's one set of AWS credentials, region and account: every local function runs with them,
 * and the local SigV4 checks (broadcast API, Management API, Lambda Invoke API) accept exactly them. A
 * module without imports, so that the benchmark and the e2e helpers can sign requests without loading the
 * local stack (or aws-cdk-lib with it).
 */
export const LOCAL_ACCESS_KEY_ID = 'local';
export const LOCAL_SECRET_ACCESS_KEY = 'local-secret';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
