"""The end users' identity: a Cognito user pool and the snapshot of its signing keys."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito

from constructs import Construct
from constructs.encryption_key import EncryptionKey
from constructs.jwks_snapshot import JwksSnapshot
from mesh_identity import constants
from stacks.settings import MeshSettings, retention


class IdentityStack(cdk.Stack):
    """Cognito user pool for the bank's customers, its resource server, the front end's client."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: MeshSettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        self.user_pool = self._build_user_pool()
        self.resource_server, self.scopes = self._build_resource_server()
        self.front_end_client = self._build_front_end_client(settings)
        self.user_pool.add_domain(
            "Domain",
            # The first group of the stack id's UUID keeps the prefix unique
            # without publishing the account id in a public DNS name.
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"agent-mesh-{_stack_uuid_prefix()}"),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )

        self.issuer_url = f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool.user_pool_id}"
        self.discovery_url = f"{self.issuer_url}/.well-known/openid-configuration"
        self.jwks_url = f"{self.issuer_url}/.well-known/jwks.json"

        log_key = EncryptionKey(
            self, "LogKey", description="Agent mesh identity: logs of the JWKS snapshot function", for_log_groups=True
        ).key
        self.jwks_snapshot = JwksSnapshot(
            self,
            "JwksSnapshot",
            jwks_url=self.jwks_url,
            parameter_name=f"/agent-mesh/{self.stack_name}/cognito-jwks",
            refresh_interval=cdk.Duration.minutes(settings.jwks_refresh_minutes),
            encryption_key=log_key,
            log_retention=retention(settings.log_retention_days),
            deploy_nonce=settings.deploy_nonce,
        )
        self._add_outputs()

    def _build_user_pool(self) -> cognito.UserPool:
        return cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            sign_in_case_sensitive=False,
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(1),
            ),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _build_resource_server(self) -> tuple[cognito.UserPoolResourceServer, dict[str, cognito.ResourceServerScope]]:
        descriptions = {
            constants.SCOPE_ACCOUNTS_READ: "Read the balances of the signed-in customer's accounts",
            constants.SCOPE_TRANSACTIONS_READ: "Read the transactions of the signed-in customer's accounts",
        }
        scopes = {}
        for scope in constants.RESOURCE_SERVER_SCOPES:
            name = scope.removeprefix(f"{constants.RESOURCE_SERVER_IDENTIFIER}/")
            scopes[name] = cognito.ResourceServerScope(scope_name=name, scope_description=descriptions[scope])
        server = self.user_pool.add_resource_server(
            "ResourceServer",
            identifier=constants.RESOURCE_SERVER_IDENTIFIER,
            user_pool_resource_server_name="Agent mesh",
            scopes=list(scopes.values()),
        )
        return server, scopes

    def _build_front_end_client(self, settings: MeshSettings) -> cognito.UserPoolClient:
        """Add the bank's front-end client: authorization code with PKCE, no client secret."""
        return self.user_pool.add_client(
            "FrontEndClient",
            generate_secret=False,
            # Only managed login (authorization code) issues tokens; no
            # password or custom flows that a script could call directly.
            auth_flows=cognito.AuthFlow(user_srp=False, user_password=False, custom=False, admin_user_password=False),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[
                    cognito.OAuthScope.OPENID,
                    *(
                        cognito.OAuthScope.resource_server(self.resource_server, scope)
                        for scope in self.scopes.values()
                    ),
                ],
                callback_urls=list(settings.front_end_callback_urls),
                logout_urls=list(settings.front_end_logout_urls),
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            access_token_validity=cdk.Duration.minutes(settings.access_token_minutes),
            id_token_validity=cdk.Duration.minutes(settings.access_token_minutes),
            refresh_token_validity=cdk.Duration.hours(8),
            refresh_token_rotation_grace_period=cdk.Duration.seconds(10),
            enable_token_revocation=True,
            prevent_user_existence_errors=True,
        )

    def _add_outputs(self) -> None:
        for name, value, description in (
            ("UserPoolId", self.user_pool.user_pool_id, "Cognito user pool of the bank's customers"),
            ("FrontEndClientId", self.front_end_client.user_pool_client_id, "App client of the front end"),
            ("IssuerUrl", self.issuer_url, "Issuer (iss) of the access tokens"),
            ("DiscoveryUrl", self.discovery_url, "OpenID Connect discovery document"),
            ("JwksParameterName", self.jwks_snapshot.parameter_name, "SSM parameter with the JWKS snapshot"),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)


def _stack_uuid_prefix() -> str:
    # AWS::StackId is arn:...:stack/<name>/<uuid>; take the uuid's first 8 hex digits.
    stack_uuid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
    return cdk.Fn.select(0, cdk.Fn.split("-", stack_uuid))
