"""Resolution of the template's environment variables to the local mesh's values.

A deployed runtime or function gets its environment from the template, with
CloudFormation resolving ``Ref``, ``Fn::GetAtt`` and ``Fn::Join``. The local
mesh resolves the same expressions against its own physical values (local
runtime ARNs, the moto table name, the loopback Gateway URL), so each
component starts with the variables the template gives it, no more and no
fewer. Values that come from another stack (the Cognito user pool) have no
local resource to point at and are supplied per variable name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .template import TemplateError


@dataclass
class LocalValues:
    """The local mesh's physical values for the template's logical resources.

    ``references`` resolves ``Ref`` by logical id and ``attributes`` resolves
    ``Fn::GetAtt`` by (logical id, attribute). ``overrides`` replaces a whole
    variable by name, for values imported from other stacks.
    """

    region: str
    account_id: str
    references: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any, *, where: str) -> Any:
        """Return ``value`` with every supported intrinsic function replaced by its local value.

        Raises `TemplateError` naming ``where`` and the expression it cannot resolve.
        """
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, list):
            return [self.resolve(item, where=where) for item in value]
        if not isinstance(value, Mapping) or len(value) != 1:
            raise TemplateError(f"{where}: cannot resolve {value!r}")

        function, argument = next(iter(value.items()))
        if function == "Ref":
            return self._reference(argument, where)
        if function == "Fn::GetAtt":
            key = (argument[0], argument[1])
            if key not in self.attributes:
                raise TemplateError(f"{where}: the local mesh has no value for Fn::GetAtt {argument[0]}.{argument[1]}")
            return self.attributes[key]
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self.resolve(part, where=where)) for part in parts)
        raise TemplateError(f"{where}: {function} is not resolved by the local mesh; add an override for this variable")

    def environment(self, variables: Mapping[str, Any], *, owner: str) -> dict[str, str]:
        """Resolve an ``Environment.Variables`` map of ``owner`` to plain strings."""
        resolved: dict[str, str] = {}
        for name, value in variables.items():
            if name in self.overrides:
                resolved[name] = self.overrides[name]
            else:
                resolved[name] = str(self.resolve(value, where=f"{owner} variable {name}"))
        return resolved

    def _reference(self, logical_id: str, where: str) -> str:
        if logical_id == "AWS::Region":
            return self.region
        if logical_id == "AWS::AccountId":
            return self.account_id
        if logical_id == "AWS::Partition":
            return "aws"
        if logical_id not in self.references:
            raise TemplateError(f"{where}: the local mesh has no value for Ref {logical_id}")
        return self.references[logical_id]
