import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { stageConfigs, type IdentityConfig, type StageConfig } from '../../../lib/config/stage-config';
import { Identity } from '../../../lib/constructs/identity';
import { cdkJsonContext } from '../synth-stage';
import { logicalIdOf } from '../template-queries';

function build(stageConfig: StageConfig): { stack: Stack; identity: Identity; readonly template: Template } {
  const stack = new Stack(new App({ context: cdkJsonContext() }), 'Test');
  const identity = new Identity(stack, 'Identity', { stageConfig });
  return {
    stack,
    identity,
    get template(): Template {
      return Template.fromStack(stack);
    },
  };
}

const withIdentity = (identity: IdentityConfig): StageConfig => ({ ...stageConfigs.dev, identity });

describe('Identity', () => {
  describe('cognito', () => {
    it('signs users in by email, with a strong password policy and optional TOTP MFA', () => {
      build(stageConfigs.dev).template.hasResourceProperties('AWS::Cognito::UserPool', {
        UserPoolName: 'realtime-comments-dev',
        UsernameAttributes: ['email'],
        UsernameConfiguration: { CaseSensitive: false },
        AutoVerifiedAttributes: ['email'],
        Policies: {
          PasswordPolicy: {
            MinimumLength: 12,
            RequireLowercase: true,
            RequireUppercase: true,
            RequireNumbers: true,
            RequireSymbols: true,
          },
        },
        MfaConfiguration: 'OPTIONAL',
        EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
        AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
      });
    });

    it('keeps self sign-up off unless the stage turns it on', () => {
      build(stageConfigs.dev).template.hasResourceProperties('AWS::Cognito::UserPool', {
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      });
      build(withIdentity({ kind: 'cognito', selfSignUp: true })).template.hasResourceProperties(
        'AWS::Cognito::UserPool',
        { AdminCreateUserConfig: { AllowAdminCreateUserOnly: false } },
      );
    });

    it("sends with Cognito's own sender unless the stage names an SES identity", () => {
      build(stageConfigs.prod).template.hasResourceProperties('AWS::Cognito::UserPool', {
        EmailConfiguration: Match.absent(),
      });
    });

    it('sends through the SES identity the stage names, with its From, Reply-To and configuration set', () => {
      const sesSourceArn = 'arn:aws:ses:eu-west-1:111122223333:identity/example.com';
      const config = withIdentity({
        kind: 'cognito',
        email: {
          sesSourceArn,
          from: 'Realtime comments <no-reply@example.com>',
          replyTo: 'support@example.com',
          configurationSet: 'comments-auth',
        },
      });
      build(config).template.hasResourceProperties('AWS::Cognito::UserPool', {
        EmailConfiguration: {
          EmailSendingAccount: 'DEVELOPER',
          SourceArn: sesSourceArn,
          From: 'Realtime comments <no-reply@example.com>',
          ReplyToEmailAddress: 'support@example.com',
          ConfigurationSet: 'comments-auth',
        },
      });
    });

    it.each([
      [
        'an ARN that is not an SES identity',
        { sesSourceArn: 'arn:aws:sns:eu-west-1:111122223333:x', from: 'a@example.com' },
        /sesSourceArn/,
      ],
      [
        'a From without an address',
        { sesSourceArn: 'arn:aws:ses:eu-west-1:111122223333:identity/a@example.com', from: 'Example' },
        /from/,
      ],
      [
        'a configuration set SES would refuse',
        {
          sesSourceArn: 'arn:aws:ses:eu-west-1:111122223333:identity/example.com',
          from: 'a@example.com',
          configurationSet: 'no spaces',
        },
        /configurationSet/,
      ],
    ])('refuses %s at synth', (_name, email, message) => {
      expect(() => build(withIdentity({ kind: 'cognito', email }))).toThrow(message);
    });

    it('has no SMS role: SMS is neither an MFA factor nor a recovery channel', () => {
      build(stageConfigs.dev).template.resourceCountIs('AWS::IAM::Role', 0);
    });

    it('turns on full-function threat protection on the Plus plan where the stage asks (prod)', () => {
      build(stageConfigs.prod).template.hasResourceProperties('AWS::Cognito::UserPool', {
        UserPoolTier: 'PLUS',
        UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
      });
      build(stageConfigs.dev).template.hasResourceProperties('AWS::Cognito::UserPool', {
        UserPoolTier: 'ESSENTIALS',
        UserPoolAddOns: Match.absent(),
      });
    });

    it('retains and deletion-protects the prod pool (unless its creation fails), and lets the dev pool go', () => {
      build(stageConfigs.prod).template.hasResource('AWS::Cognito::UserPool', {
        DeletionPolicy: 'RetainExceptOnCreate',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({ DeletionProtection: 'ACTIVE' }),
      });
      build(stageConfigs.dev).template.hasResource('AWS::Cognito::UserPool', {
        DeletionPolicy: 'Delete',
        Properties: Match.objectLike({ DeletionProtection: 'INACTIVE' }),
      });
    });

    it('has one public app client: SRP for browsers, admin (IAM) sign-in for operators, no secret, no OAuth', () => {
      const { template } = build(stageConfigs.dev);
      template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
      template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        ClientName: 'realtime-comments-dev-web',
        GenerateSecret: false,
        // No ALLOW_USER_PASSWORD_AUTH: a password never leaves the browser except through SRP.
        ExplicitAuthFlows: [
          'ALLOW_ADMIN_USER_PASSWORD_AUTH',
          'ALLOW_USER_SRP_AUTH',
          'ALLOW_REFRESH_TOKEN_AUTH',
        ],
        AllowedOAuthFlowsUserPoolClient: false,
        AllowedOAuthFlows: Match.absent(),
        CallbackURLs: Match.absent(),
        PreventUserExistenceErrors: 'ENABLED',
        EnableTokenRevocation: true,
      });
    });

    it('exposes the Cognito issuer, the client id as audience, and the JWKS URL', () => {
      const { stack, identity } = build(stageConfigs.dev);
      const userPool = logicalIdOf(identity.userPool!);
      const issuerJoin = [
        'https://cognito-idp.',
        { Ref: 'AWS::Region' },
        '.',
        { Ref: 'AWS::URLSuffix' },
        '/',
        { Ref: userPool },
      ];
      expect(stack.resolve(identity.issuer)).toEqual({ 'Fn::Join': ['', issuerJoin] });
      expect(stack.resolve(identity.audience)).toEqual({ Ref: logicalIdOf(identity.userPoolClient!) });
      expect(stack.resolve(identity.jwksUrl)).toEqual({
        'Fn::Join': ['', [...issuerJoin, '/.well-known/jwks.json']],
      });
    });
  });

  describe('oidc', () => {
    const oidc = { kind: 'oidc', issuerUrl: 'https://login.example.com', audience: 'comments-api' } as const;

    it('exposes the configured issuer and audience, with the well-known JWKS URL by default', () => {
      const { identity, stack } = build(withIdentity(oidc));
      expect(identity).toMatchObject({
        issuer: 'https://login.example.com',
        audience: 'comments-api',
        jwksUrl: 'https://login.example.com/.well-known/jwks.json',
        userPool: undefined,
        userPoolClient: undefined,
      });
      expect(stack.node.findAll().filter(CfnResource.isCfnResource)).toEqual([]);
    });

    it('takes an explicit JWKS URL', () => {
      const jwksUrl = 'https://keys.example.com/jwks';
      expect(build(withIdentity({ ...oidc, jwksUrl })).identity.jwksUrl).toBe(jwksUrl);
    });

    it.each(['http://login.example.com', 'login.example.com', 'https://login.example.com/'])(
      'rejects the issuer %p',
      (issuerUrl) => {
        expect(() => build(withIdentity({ ...oidc, issuerUrl }))).toThrow(/https:\/\/ URL/);
      },
    );

    it('rejects a JWKS URL that is not https', () => {
      expect(() => build(withIdentity({ ...oidc, jwksUrl: 'http://keys.example.com/jwks' }))).toThrow(
        /jwksUrl must be an https:\/\/ URL/,
      );
    });
  });
});
