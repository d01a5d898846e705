"""Deploy-time copy of the Cognito user pool's JWKS into an SSM parameter.

The mesh VPC has no internet route, so verifiers inside it read the pool's
public signing keys from an SSM parameter. This function runs outside the VPC,
fetches the JWKS over HTTPS, validates that it contains only RSA public keys,
and writes it to the parameter. A CloudFormation custom resource runs it on
every deploy and an EventBridge schedule runs it hourly.
"""
