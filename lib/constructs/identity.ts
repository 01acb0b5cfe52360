import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { CognitoEmailConfig, IdentityConfig, StageConfig } from '../config/stage-config';

export interface IdentityProps {
  readonly stageConfig: StageConfig;
}

/**
 * Where the APIs' tokens come from: the three values a JWT verifier needs (issuer, audience, JWKS URL),
 * whether they belong to a Cognito user pool built here or to an external OpenID Connect issuer.
 *
 * The Cognito pool signs users in by email with SRP only (no client secret, no OAuth flows, no hosted UI),
 * with optional TOTP MFA. Self sign-up is off unless the stage turns it on (see {@link IdentityConfig}).
 */
export class Identity extends Construct {
  /** The tokens' `iss`: for Cognito `https://cognito-idp.{region}.{urlSuffix}/{userPoolId}`. */
  readonly issuer: string;
  /** The accepted `aud` (ID tokens) or `client_id` (Cognito access tokens): the app client id. */
  readonly audience: string;
  /** Where the issuer publishes its signing keys. */
  readonly jwksUrl: string;
  /** Only for `kind: 'cognito'`. */
  readonly userPool?: cognito.UserPool;
  /** Only for `kind: 'cognito'`. */
  readonly userPoolClient?: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: IdentityProps) {
    super(scope, id);
    const { stageConfig } = props;
    const config: IdentityConfig = stageConfig.identity;

    if (config.kind === 'oidc') {
      assertHttpsUrl(this, 'issuerUrl', config.issuerUrl);
      this.issuer = config.issuerUrl;
      this.audience = config.audience;
      this.jwksUrl = config.jwksUrl ?? `${config.issuerUrl}/.well-known/jwks.json`;
      assertHttpsUrl(this, 'jwksUrl', this.jwksUrl);
      return;
    }

    const threatProtection = config.threatProtection ?? false;
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `realtime-comments-${stageConfig.stageName}`,
      selfSignUpEnabled: config.selfSignUp ?? false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: threatProtection ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      standardThreatProtectionMode: threatProtection
        ? cognito.StandardThreatProtectionMode.FULL_FUNCTION
        : undefined,
      deletionProtection: stageConfig.deletionProtection,
      removalPolicy: stageConfig.removalPolicy,
    });
    if (config.email) useSesEmail(this.userPool, config.email);
    this.userPoolClient = this.userPool.addClient('WebClient', {
      userPoolClientName: `realtime-comments-${stageConfig.stageName}-web`,
      // A browser client cannot keep a secret, and SRP never sends the password itself.
      generateSecret: false,
      // adminUserPassword only works with IAM credentials (AdminInitiateAuth): it lets operators and the e2e
      // suite get tokens from the CLI without opening password sign-in to browsers.
      authFlows: { userSrp: true, adminUserPassword: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });

    // Cognito's issuer host is cognito-idp.{region}.amazonaws.com; URLSuffix keeps it right in other
    // partitions. The local stack recognises exactly this join and maps it to its own issuer.
    const stack = Stack.of(this);
    this.issuer = `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${this.userPool.userPoolId}`;
    this.audience = this.userPoolClient.userPoolClientId;
    this.jwksUrl = `${this.issuer}/.well-known/jwks.json`;

    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional with TOTP only: commenting is low-risk and required MFA would gate every reader who ' +
        'wants to post; users who want it enrol a TOTP app, and SMS (SIM-swap prone, billed) is off.',
    });
    if (!threatProtection) {
      Validations.of(this.userPool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason:
          `Stage ${stageConfig.stageName} has no real users, so it stays on the Essentials plan: threat ` +
          'protection (Plus plan, billed per monthly active user) is on where real users sign in (prod).',
      });
    }
  }
}

/**
 * Cognito's own sender allows 50 e-mails a day per account (invitations, codes, password resets): enough
 * for a handful of operators, not for real users. With an SES identity Cognito sends through SES
 * (`DEVELOPER`), within that account's SES quotas. Set on the L1 property: UserPoolEmail.withSES() builds
 * the identity's ARN from the stack's region, which an environment-agnostic stack does not know.
 */
function useSesEmail(userPool: cognito.UserPool, email: CognitoEmailConfig): void {
  const fail = (message: string): never => {
    throw new Error(`${userPool.node.path}: identity email ${message}`);
  };
  if (
    !Token.isUnresolved(email.sesSourceArn) &&
    !/^arn:aws[a-z-]*:ses:[a-z0-9-]+:\d{12}:identity\/[^\s]+$/.test(email.sesSourceArn)
  ) {
    fail(
      `sesSourceArn must be an SES identity ARN (arn:aws:ses:<region>:<account>:identity/…), got "${email.sesSourceArn}"`,
    );
  }
  const address = /<([^<>\s]+@[^<>\s]+)>$/.exec(email.from)?.[1] ?? email.from;
  if (!Token.isUnresolved(email.from) && !/^[^@\s<>]+@[^@\s<>]+$/.test(address)) {
    fail(`from must be an address or "Name <address>", got "${email.from}"`);
  }
  if (email.configurationSet !== undefined && !/^[a-zA-Z0-9_-]{1,64}$/.test(email.configurationSet)) {
    fail(
      `configurationSet must be an SES configuration set name ([A-Za-z0-9_-]{1,64}), got "${email.configurationSet}"`,
    );
  }
  (userPool.node.defaultChild as cognito.CfnUserPool).emailConfiguration = {
    emailSendingAccount: 'DEVELOPER',
    sourceArn: email.sesSourceArn,
    from: email.from,
    replyToEmailAddress: email.replyTo,
    configurationSet: email.configurationSet,
  };
}

/** Tokens are only ever verified against keys fetched over TLS; a trailing slash would never match `iss`. */
function assertHttpsUrl(scope: Construct, name: string, value: string): void {
  if (Token.isUnresolved(value)) return;
  if (!/^https:\/\/[^/]/.test(value) || value.endsWith('/')) {
    throw new Error(
      `${scope.node.path}: identity ${name} must be an https:// URL without a trailing slash, got "${value}"`,
    );
  }
}
