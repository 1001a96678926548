"""
REST API of connections: list, read, rename, verify, disconnect, and connect with an API key.

No serializer here returns credentials: API keys and tokens are write-only
on create, and OAuth tokens never leave the database. OAuth tools are
connected on the Connections page, because the flow needs a browser session.
"""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import PlanLimitExceeded
from connections.connecting import (
    ConnectionInUse,
    InvalidConnectInput,
    build_connection,
    check_connection_limit,
    clean_connect_options,
    clean_credentials,
    disconnect,
    identify,
    save_new_connection,
    without_secrets,
)
from connections.crypto import CredentialsDecryptionError
from connections.forms import (
    CREDENTIAL_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    credential_fields,
    rejected_credentials_noun,
    rejection_field,
)
from connections.models import Connection
from connections.providers import all_providers, get_provider_class
from connections.providers.errors import ProviderError
from oneprofile.api import StrictFieldsMixin, WorkspaceModelViewSet

logger = logging.getLogger(__name__)

OAUTH_NEEDS_BROWSER_MESSAGE = (
    "OAuth tools can't be connected through the API, because the tool's "
    "authorize page needs a person logged in to Oneprofile in a browser. "
    "Connect the tool on the workspace's Connections page; the connection "
    "then appears in GET /api/v1/connections/."
)


class PlanLimitReached(exceptions.PermissionDenied):
    default_code = "plan_limit_exceeded"


class ConnectionStillUsed(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "connection_in_use"
    default_detail = "Syncs still use this connection."


class ToolUnavailable(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "tool_unavailable"
    default_detail = "The tool did not answer correctly."


class ConnectionSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A connection to one tool account. Only `display_name` is writable."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    provider_label = serializers.CharField(read_only=True)
    display_name = serializers.CharField(
        max_length=DISPLAY_NAME_MAX_LENGTH,
        help_text=f"The name shown on the Connections page, 1 to {DISPLAY_NAME_MAX_LENGTH} characters.",
        error_messages={
            "blank": f"display_name can't be blank. Send a name of 1 to {DISPLAY_NAME_MAX_LENGTH} characters.",
            "max_length": f"display_name is longer than {DISPLAY_NAME_MAX_LENGTH} characters. Send a shorter name.",
        },
    )

    class Meta:
        model = Connection
        # Credentials and token fields are deliberately absent.
        fields = [
            "id",
            "provider",
            "provider_label",
            "display_name",
            "account_id",
            "account_name",
            "auth_method",
            "status",
            "last_error",
            "last_verified_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [name for name in fields if name != "display_name"]


class ApiKeyConnectionSerializer(StrictFieldsMixin, serializers.Serializer):
    """
    The input that connects a tool with an API key, or with an agent email and API token.

    Besides the fields declared here, the serializer takes every credential
    field that a registered provider requires (see
    connections.forms.credential_fields), each write-only.
    """

    provider = serializers.CharField(help_text="The tool's code, for example 'stripe'.")
    options = serializers.DictField(
        required=False,
        help_text=(
            "The connect options the tool needs before connecting, for example "
            '{"subdomain": "acme"} for Zendesk. Checked before any request to the tool.'
        ),
    )
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        max_length=CREDENTIAL_MAX_LENGTH,
        style={"input_type": "password"},
        help_text="The tool's API key. Checked with the tool before saving; never returned.",
    )
    email = serializers.CharField(
        write_only=True,
        required=False,
        max_length=254,
        help_text="For tools that take an agent email with an API token (Zendesk): the agent's email.",
    )
    api_token = serializers.CharField(
        write_only=True,
        required=False,
        max_length=CREDENTIAL_MAX_LENGTH,
        style={"input_type": "password"},
        help_text="For tools that take an agent email with an API token (Zendesk): the API token; never returned.",
    )
    display_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=DISPLAY_NAME_MAX_LENGTH,
        help_text="Optional name for the Connections page; defaults to the account's name in the tool.",
    )

    def get_fields(self):
        fields = super().get_fields()
        for provider_class in all_providers():
            for spec in credential_fields(provider_class):
                if spec["name"] not in fields:
                    fields[spec["name"]] = serializers.CharField(
                        write_only=True,
                        required=False,
                        max_length=CREDENTIAL_MAX_LENGTH,
                        help_text=f"{provider_class.label}: {spec.get('label') or spec['name']}.",
                    )
        return fields

    def validate_provider(self, value):
        try:
            provider_class = get_provider_class(value)
        except KeyError:
            known = ", ".join(provider.name for provider in all_providers())
            raise serializers.ValidationError(f"Unknown provider '{value}'. Known providers: {known}.")
        if "api_key" not in provider_class.auth_methods:
            raise serializers.ValidationError(
                f"{provider_class.label} connects only with OAuth. {OAUTH_NEEDS_BROWSER_MESSAGE}"
            )
        return provider_class

    def validate(self, attrs):
        """Check the options and credential fields the provider requires, through the provider, before any request."""
        provider_class = attrs["provider"]
        specs = credential_fields(provider_class)
        names = [spec["name"] for spec in specs]
        credential_names = {name for name, field in self.fields.items() if name not in ("provider", "options", "display_name")}
        errors = {}

        for name in sorted(credential_names & set(attrs) - set(names)):
            errors[name] = [
                f"{provider_class.label} doesn't take {name}. Send {' and '.join(names)} to connect it."
            ]
        for spec in specs:
            name = spec["name"]
            value = (attrs.get(name) or "").strip()
            if not value:
                errors[name] = [f"{name} is required to connect {provider_class.label}. {spec.get('help', '')}".strip()]
            elif spec.get("type") == "email":
                try:
                    validate_email(value)
                except DjangoValidationError:
                    errors[name] = [f"{name} must be an email address such as admin@example.com."]
        try:
            options = clean_connect_options(provider_class, attrs.get("options") or {})
        except InvalidConnectInput as error:
            errors["options"] = {name: [message] for name, message in error.errors.items()}
            options = {}
        if errors:
            raise serializers.ValidationError(errors)

        values = {name: attrs[name].strip() for name in names}
        try:
            credentials, key_options = clean_credentials(provider_class, values)
        except InvalidConnectInput as error:
            field_errors = {}
            for name, message in error.errors.items():
                field_errors.setdefault(name if name in names else rejection_field(specs), []).append(message)
            raise serializers.ValidationError(field_errors)
        attrs["credentials"] = credentials
        attrs["connection_options"] = {**options, **key_options}
        attrs["secrets"] = [values[spec["name"]] for spec in specs if spec.get("secret", True)]
        return attrs


class VerifyResultSerializer(serializers.Serializer):
    verified = serializers.BooleanField(help_text="True when the tool accepted the credentials.")
    detail = serializers.CharField(required=False, help_text="Why verification failed, when it did.")
    connection = ConnectionSerializer()


@extend_schema_view(
    list=extend_schema(summary="List the workspace's connections", description="Lists the connections ordered by name."),
    retrieve=extend_schema(
        summary="Get one connection",
        description="Returns one connection with its status and last error, never its credentials.",
    ),
    partial_update=extend_schema(
        summary="Rename a connection",
        description="Sets display_name. Every other field is read-only: sending one returns 400 naming the field.",
    ),
    destroy=extend_schema(
        summary="Disconnect a connection",
        description=(
            "Deletes the connection and its stored credentials. Returns 409, naming "
            "the syncs, while syncs still use the connection."
        ),
    ),
)
class ConnectionViewSet(WorkspaceModelViewSet):
    """
    The workspace's connections.

    An API key acts for the whole workspace, like an owner or admin, so
    every operation here is open to any active key of the workspace.
    """

    queryset = Connection.objects.select_related("workspace")
    serializer_class = ConnectionSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_object(self):
        try:
            return super().get_object()
        except exceptions.NotFound:
            raise exceptions.NotFound(
                f"No connection with id '{self.kwargs['id']}' exists in this "
                f"workspace. List them with GET /api/v1/connections/ to find the right id."
            )

    @extend_schema(
        summary="Connect a tool with an API key",
        description=(
            "Checks the connect options and credentials, then the credentials "
            "with the tool, and stores the connection only if the tool accepts "
            "them. Most tools take `api_key`; Zendesk takes `email` and "
            "`api_token`, with `options` {\"subdomain\": ...}. Keys and tokens "
            "are write-only. Invalid options answer 400 on options; credentials "
            "the tool rejects answer 400 on the key or token field; a tool that "
            "can't be reached answers 502; a workspace at its plan's connection "
            "limit answers 403. OAuth tools are connected on the Connections page."
        ),
        request=ApiKeyConnectionSerializer,
        responses={201: ConnectionSerializer},
    )
    def create(self, request, *args, **kwargs):
        serializer = ApiKeyConnectionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        provider_class = data["provider"]
        workspace = self.workspace

        connection = build_connection(workspace, provider_class, Connection.AuthMethod.API_KEY, request.user)
        connection.options = data["connection_options"]
        connection.set_credentials(data["credentials"])
        try:
            check_connection_limit(workspace)
            identity = identify(connection)
            save_new_connection(connection, identity, data.get("display_name", ""))
        except PlanLimitExceeded as error:
            raise PlanLimitReached(str(error))
        except ProviderError as error:
            # The tool's message ends with a full stop, and the text below adds its own.
            message = without_secrets(error.message.rstrip("."), data["secrets"])
            logger.info(
                "%s rejected an API key for workspace %s through API key %s: %s",
                provider_class.name,
                workspace.pk,
                request.auth.prefix,
                error.category,
            )
            specs = credential_fields(provider_class)
            noun = rejected_credentials_noun(specs)
            if error.category == error.category.AUTHORISATION:
                raise serializers.ValidationError(
                    {rejection_field(specs): [f"{provider_class.label} rejected this {noun}: {message}. Nothing was saved."]}
                )
            raise ToolUnavailable(
                f"Could not check the {noun} with {provider_class.label}: {message}. Nothing was saved; try again later."
            )
        output = ConnectionSerializer(connection, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        connection = serializer.save()
        logger.info(
            "Connection %s of workspace %s renamed through API key %s",
            connection.pk,
            connection.workspace_id,
            self.request.auth.prefix,
        )

    def perform_destroy(self, connection):
        try:
            disconnect(connection, self.request.user)
        except ConnectionInUse as error:
            raise ConnectionStillUsed(str(error))

    @extend_schema(
        summary="Verify a connection",
        description=(
            "Asks the tool which account the stored credentials reach and stores "
            "the result as the connection's status. Answers 200 either way: "
            "`verified` says whether the tool accepted the credentials, and "
            "`detail` says why not."
        ),
        operation_id="connections_verify",
        request=None,
        responses=VerifyResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, id=None):
        connection = self.get_object()
        result = {"verified": True}
        try:
            connection.verify()
        except CredentialsDecryptionError as error:
            logger.error("Connection %s of workspace %s: %s", connection.pk, connection.workspace_id, error)
            result = {"verified": False, "detail": str(error)}
        except ProviderError as error:
            result = {"verified": False, "detail": error.message}
        result["connection"] = ConnectionSerializer(connection, context=self.get_serializer_context()).data
        return Response(result)

    @extend_schema(
        summary="Start an OAuth connection (not available)",
        description=f"Always returns 400: {OAUTH_NEEDS_BROWSER_MESSAGE}",
        operation_id="connections_oauth_start",
        request=None,
        responses={400: inline_serializer("OAuthStartError", {"detail": serializers.CharField()})},
    )
    @action(detail=False, methods=["post"], url_path="oauth/start")
    def oauth_start(self, request):
        return Response({"detail": OAUTH_NEEDS_BROWSER_MESSAGE}, status=status.HTTP_400_BAD_REQUEST)
