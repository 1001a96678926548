"""
Pages to connect tools, and to see, rename, verify, reconnect and disconnect connections.

Owners and admins connect, rename, reconnect and disconnect. Plain members
see the list and detail pages and may verify a connection. Verifying only
requests the account that the stored credentials reach and updates the
connection's status, so it changes nothing a member can't already see.
"""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_view
from accounts.models import PlanLimitExceeded, Workspace
from connections import oauth
from connections.connecting import (
    AccountMismatch,
    ConnectionInUse,
    blocking_rows,
    build_connection,
    check_connection_limit,
    connect_options,
    disconnect,
    identify,
    options_after_oauth,
    replace_credentials,
    save_new_connection,
    without_secrets,
)
from connections.crypto import CredentialsDecryptionError
from connections.forms import ApiKeyForm, ConnectOptionsForm, RenameForm
from connections.models import Connection
from connections.providers import all_providers, get_provider_class
from connections.providers.errors import ProviderError

logger = logging.getLogger(__name__)

API_KEY = Connection.AuthMethod.API_KEY
OAUTH = Connection.AuthMethod.OAUTH


def _provider_or_404(name, auth_method):
    try:
        provider_class = get_provider_class(name)
    except KeyError:
        raise Http404(f"No tool named {name!r} can be connected.")
    if auth_method not in provider_class.auth_methods:
        raise Http404(f"{provider_class.label} can't be connected with {auth_method}.")
    return provider_class


def _connection_or_404(workspace, connection_id):
    return get_object_or_404(Connection, workspace=workspace, public_id=connection_id)


def _key_rejection_message(provider_class, error, form):
    noun = form.rejected_noun
    # The tool's message ends with a full stop, and the text below adds its own.
    reason = error.message.rstrip(".")
    if error.category == error.category.AUTHORISATION:
        text = (
            f"{provider_class.label} rejected this {noun}: {reason}. Check "
            f"that you copied the whole {noun} and that it is still active. Nothing "
            f"was saved."
        )
    else:
        text = (
            f"Could not check the {noun} with {provider_class.label}: "
            f"{reason}. Nothing was saved; try again in a few minutes."
        )
    return without_secrets(text, form.secret_values())


def _connect_option_rows(connection):
    """Return (label, value) of each connect option stored on the connection, for its detail page."""
    try:
        declared = connect_options(connection.provider_class)
    except KeyError:
        return []
    return [
        (option.get("label") or option["name"], connection.options[option["name"]])
        for option in declared
        if connection.options.get(option["name"])
    ]


def _connected_message(connection, provider_class):
    """Return the confirmation of a new connection, naming the tool's account id once."""
    if not connection.account_id:
        return f"{connection.display_name} is connected to {provider_class.label}."
    return f"{connection.display_name} is connected ({provider_class.label} account {connection.account_id})."


# List, detail, connect page


@workspace_view()
def connection_list(request, workspace):
    connections = workspace.connections.select_related("created_by")
    return render(request, "connections/list.html", {"connections": connections})


@workspace_view()
def connection_detail(request, workspace, connection_id):
    connection = _connection_or_404(workspace, connection_id)
    context = {"connection": connection, "option_rows": _connect_option_rows(connection)}
    return render(request, "connections/detail.html", context)


@workspace_view(manager_only=True)
def new_connection(request, workspace):
    """List the registered tools with the ways each can be connected."""
    rows = []
    for provider_class in all_providers():
        oauth_problem = ""
        if "oauth" in provider_class.auth_methods:
            try:
                oauth.client_credentials(provider_class)
            except oauth.OAuthNotConfigured as error:
                oauth_problem = str(error)
        rows.append(
            {
                "name": provider_class.name,
                "label": provider_class.label,
                "api_key_label": provider_class.api_key_label,
                "offers_oauth": "oauth" in provider_class.auth_methods,
                "asks_options": bool(connect_options(provider_class)),
                "offers_api_key": "api_key" in provider_class.auth_methods,
                "oauth_problem": oauth_problem,
            }
        )
    try:
        check_connection_limit(workspace)
        limit_message = ""
    except PlanLimitExceeded as error:
        limit_message = str(error)
    context = {"rows": rows, "limit_message": limit_message}
    return render(request, "connections/new.html", context)


# Connecting with an API key


@workspace_view(manager_only=True)
def connect_api_key(request, workspace, provider):
    """Check the connect options and API key with the tool and, only if the tool accepts them, store the connection."""
    provider_class = _provider_or_404(provider, API_KEY)
    form = ApiKeyForm(
        request.POST if request.method == "POST" else None, provider_class=provider_class
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            connection = build_connection(workspace, provider_class, API_KEY, request.user)
            connection.options = form.connection_options()
            connection.set_credentials(form.credentials)
            try:
                # Checked before the tool is called, and again under a lock when saving.
                check_connection_limit(workspace)
                identity = identify(connection)
                save_new_connection(connection, identity, form.cleaned_data["display_name"])
            except PlanLimitExceeded as error:
                form.add_error(None, str(error))
                status = 403
            except ProviderError as error:
                logger.info(
                    "%s rejected an API key for workspace %s: %s",
                    provider_class.name,
                    workspace.pk,
                    error.category,
                )
                form.add_error(form.rejection_field, _key_rejection_message(provider_class, error, form))
            else:
                messages.success(request, _connected_message(connection, provider_class))
                return redirect(connection)
    # Templates call callables, so they get the provider's names, not its class.
    context = {"form": form, "provider_name": provider_class.name, "provider_label": provider_class.label}
    return render(request, "connections/api_key_form.html", context, status=status)


# Connecting with OAuth


@workspace_view(manager_only=True)
def oauth_start(request, workspace, provider):
    """
    Send the member to the tool's authorize page, with a state bound to this session.

    For a provider with connect options (such as Zendesk's subdomain), GET
    shows a form for them. POST checks them before the authorize page, and
    the session keeps them with the state until the callback.
    """
    provider_class = _provider_or_404(provider, OAUTH)
    asks_options = bool(connect_options(provider_class))
    if request.method != "POST" and not (request.method == "GET" and asks_options):
        return HttpResponseNotAllowed(["GET", "POST"] if asks_options else ["POST"])

    form = ConnectOptionsForm(request.POST if request.method == "POST" else None, provider_class=provider_class)
    if request.method == "GET" or not form.is_valid():
        return _render_oauth_options(request, provider_class, form, status=200 if request.method == "GET" else 400)
    try:
        check_connection_limit(workspace)
        authorize_url = oauth.begin_authorization(request, provider_class, workspace, options=form.options)
    except (PlanLimitExceeded, oauth.OAuthFlowError) as error:
        if asks_options:
            form.add_error(None, str(error))
            return _render_oauth_options(request, provider_class, form, status=400)
        messages.error(request, str(error))
        return redirect("connections:new", workspace_id=workspace.public_id)
    logger.info(
        "User %s started OAuth with %s for workspace %s",
        request.user.pk,
        provider_class.name,
        workspace.pk,
    )
    return redirect(authorize_url)


def _render_oauth_options(request, provider_class, form, status):
    context = {"form": form, "provider_name": provider_class.name, "provider_label": provider_class.label}
    return render(request, "connections/oauth_options.html", context, status=status)


def _oauth_error(request, message, workspace=None, status=400):
    logger.info("OAuth callback rejected for user %s: %s", request.user.pk, message)
    context = {"message": message, "error_workspace": workspace}
    return render(request, "connections/oauth_error.html", context, status=status)


def _callback_answer_error(request, provider_class):
    """Return the message for an error the tool sent back instead of a code, or "" when it sent none."""
    error = request.GET.get("error", "")
    if not error:
        return ""
    if error == "access_denied":
        return (
            f"Authorization was declined in {provider_class.label}, so nothing "
            f"was connected. Start again from the Connections page when you "
            f"are ready to allow access."
        )
    description = request.GET.get("error_description", "")[:200]
    return (
        f"{provider_class.label} answered with the error {error[:100]!r}"
        f"{': ' + description if description else ''}. Nothing was connected. "
        f"Start again from the Connections page."
    )


@login_required
def oauth_callback(request, provider):
    """
    Finish an OAuth authorization: check the state, then exchange the code and store the connection.

    Every check runs before the token endpoint is called: the state (present,
    issued to this session, unused, unexpired, for this provider), the
    member's role, the tool's error parameter and the code.
    """
    provider_class = _provider_or_404(provider, OAUTH)
    try:
        pending = oauth.consume_state(request, provider_class.name, request.GET.get("state", ""))
    except oauth.OAuthFlowError as error:
        return _oauth_error(request, str(error))

    workspace = Workspace.objects.select_related("plan").filter(public_id=pending.workspace_id).first()
    membership = workspace.membership_for(request.user) if workspace else None
    if membership is None:
        return _oauth_error(
            request,
            "The workspace this authorization was started for no longer exists, or you left it.",
            status=404,
        )
    request.workspace = workspace
    request.membership = membership
    if not membership.is_manager:
        return _oauth_error(
            request,
            "Only the workspace's owners and admins can connect tools, and you are no longer one.",
            workspace,
            status=403,
        )

    answer_error = _callback_answer_error(request, provider_class)
    if answer_error:
        return _oauth_error(request, answer_error, workspace)
    code = request.GET.get("code", "")
    if not code:
        return _oauth_error(
            request,
            f"{provider_class.label} sent no authorization code, so nothing was "
            f"connected. Start again from the Connections page.",
            workspace,
        )
    return _complete_authorization(request, provider_class, workspace, pending, code)


def _complete_authorization(request, provider_class, workspace, pending, code):
    """Exchange a checked callback's code for tokens, verify them, and store or reconnect the connection."""
    reconnect = None
    if pending.reconnect_id:
        reconnect = workspace.connections.filter(public_id=pending.reconnect_id).first()
        if reconnect is None:
            return _oauth_error(
                request,
                "The connection being reconnected was disconnected in the meantime. "
                "Connect the tool again as a new connection.",
                workspace,
            )
    else:
        try:
            check_connection_limit(workspace)
        except PlanLimitExceeded as error:
            return _oauth_error(request, str(error), workspace, status=403)
    try:
        client_id, client_secret = oauth.client_credentials(provider_class)
    except oauth.OAuthNotConfigured as error:
        return _oauth_error(request, str(error), workspace)

    candidate = build_connection(workspace, provider_class, OAUTH, request.user)
    if reconnect is not None:
        candidate.base_url = reconnect.base_url
        candidate.options = dict(reconnect.options)
    else:
        candidate.options = dict(pending.options)
    try:
        # The sandbox's address when set, else the one the options give
        # (Zendesk's account host), else "" for the tool's real endpoints.
        base_url = oauth.oauth_base_url(provider_class, candidate.options, candidate.base_url)
    except ValueError as error:
        return _oauth_error(request, f"{error} Nothing was connected.", workspace)
    try:
        token_set = provider_class.exchange_code(
            code=code,
            redirect_uri=oauth.redirect_uri(provider_class.name),
            client_id=client_id,
            client_secret=client_secret,
            code_verifier=pending.code_verifier or None,
            base_url=base_url,
        )
        candidate.store_tokens(token_set)
        candidate.options.update(options_after_oauth(provider_class, token_set, base_url))
        identity = identify(candidate)
    except ProviderError as error:
        logger.warning(
            "OAuth with %s failed for workspace %s: %s",
            provider_class.name,
            workspace.pk,
            error.category,
        )
        return _oauth_error(
            request,
            f"{provider_class.label} did not complete the authorization: "
            f"{error.message}. Nothing was connected. Start again from the "
            f"Connections page.",
            workspace,
            status=502,
        )

    if reconnect is not None:
        try:
            connection = replace_credentials(reconnect, candidate, identity)
        except AccountMismatch as error:
            return _oauth_error(request, str(error), workspace, status=409)
        messages.success(request, f"Reconnected {connection.display_name}. It is active again.")
        return redirect(connection)

    try:
        connection = save_new_connection(candidate, identity)
    except PlanLimitExceeded as error:
        return _oauth_error(request, str(error), workspace, status=403)
    messages.success(request, _connected_message(connection, provider_class))
    return redirect(connection)


# Changing a connection


@workspace_view(manager_only=True)
def rename_connection(request, workspace, connection_id):
    connection = _connection_or_404(workspace, connection_id)
    old_name = connection.display_name
    form = RenameForm(request.POST if request.method == "POST" else None, instance=connection)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, f"Renamed {old_name} to {connection.display_name}.")
            return redirect(connection)
        # A failed ModelForm validation leaves the typed name on the instance.
        connection.display_name = old_name
    context = {"form": form, "connection": connection}
    return render(
        request, "connections/rename.html", context, status=400 if form.is_bound else 200
    )


@workspace_view()
@require_POST
def verify_connection(request, workspace, connection_id):
    """Ask the tool which account the connection reaches, and store the result as its status."""
    connection = _connection_or_404(workspace, connection_id)
    try:
        identity = connection.verify()
    except CredentialsDecryptionError as error:
        logger.error("Connection %s of workspace %s: %s", connection.pk, workspace.pk, error)
        messages.error(request, str(error))
    except ProviderError as error:
        messages.error(request, f"Verification of {connection.display_name} failed: {error.message}")
    else:
        messages.success(
            request,
            f"{connection.provider_label} confirmed that {connection.display_name} "
            f"reaches account {identity.account_name or identity.account_id}.",
        )
    if request.POST.get("next") == "list":
        return redirect("connections:list", workspace_id=workspace.public_id)
    return redirect(connection)


@workspace_view(manager_only=True)
def reconnect_connection(request, workspace, connection_id):
    """
    Re-authorise a connection in place, keeping its id, syncs and history.

    An OAuth connection goes through the tool's authorize page again; an
    API-key connection takes a new key. Either way the tool must report the
    same account as before.
    """
    connection = _connection_or_404(workspace, connection_id)
    provider_class = connection.provider_class
    if connection.auth_method == OAUTH:
        if request.method == "POST":
            try:
                authorize_url = oauth.begin_authorization(
                    request, provider_class, workspace, reconnect=connection
                )
            except oauth.OAuthFlowError as error:
                messages.error(request, str(error))
                return redirect("connections:reconnect", workspace.public_id, connection.public_id)
            logger.info("User %s started reconnecting connection %s", request.user.pk, connection.pk)
            return redirect(authorize_url)
        return render(request, "connections/reconnect.html", {"connection": connection, "form": None})

    form = ApiKeyForm(
        request.POST if request.method == "POST" else None,
        provider_class=provider_class,
        with_options=False,
        with_display_name=False,
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            candidate = build_connection(workspace, provider_class, API_KEY, request.user)
            candidate.base_url = connection.base_url
            # The connect options stay those of the account; a new key may bring its own.
            candidate.options = {**connection.options, **form.key_options}
            candidate.set_credentials(form.credentials)
            try:
                identity = identify(candidate)
                replace_credentials(connection, candidate, identity)
            except ProviderError as error:
                form.add_error(form.rejection_field, _key_rejection_message(provider_class, error, form))
            except AccountMismatch as error:
                form.add_error(form.rejection_field, str(error))
                status = 409
            else:
                messages.success(request, f"Reconnected {connection.display_name} with the new key.")
                return redirect(connection)
    context = {"connection": connection, "form": form}
    return render(request, "connections/reconnect.html", context, status=status)


@workspace_view(manager_only=True)
def disconnect_connection(request, workspace, connection_id):
    """Show a confirmation page; on POST delete the connection and its credentials."""
    connection = _connection_or_404(workspace, connection_id)
    if request.method == "POST":
        name = connection.display_name
        try:
            disconnect(connection, request.user)
        except ConnectionInUse as error:
            logger.info("Connection %s of workspace %s is still used by syncs", connection.pk, workspace.pk)
            messages.error(request, str(error))
            return redirect(connection)
        messages.success(request, f"Disconnected {name}. Its credentials were deleted.")
        return redirect("connections:list", workspace_id=workspace.public_id)
    context = {"connection": connection, "blocking_rows": blocking_rows(connection)}
    return render(request, "connections/disconnect.html", context)
