from django import forms

from connections.connecting import (
    InvalidConnectInput,
    clean_connect_options,
    clean_credentials,
    connect_options,
)
from connections.models import Connection

DISPLAY_NAME_MAX_LENGTH = Connection._meta.get_field("display_name").max_length
OPTION_MAX_LENGTH = 200
CREDENTIAL_MAX_LENGTH = 1000


def credential_fields(provider_class):
    """
    Return the fields a provider's API-key connection takes, as dicts with name, label, help, secret and type.

    A provider may declare them as `api_key_fields`. Otherwise a provider
    with `clean_api_token` takes an agent's email with an API token, and any
    other provider takes one API key.
    """
    declared = getattr(provider_class, "api_key_fields", None)
    if declared:
        return [dict(field) for field in declared]
    if getattr(provider_class, "clean_api_token", None) is not None:
        return [
            {
                "name": "email",
                "label": "Agent email",
                "help": f"The email of the {provider_class.label} admin or agent who owns the token.",
                "secret": False,
                "type": "email",
            },
            {
                "name": "api_token",
                "label": provider_class.api_key_label or "API token",
                "help": provider_class.api_key_help,
                "secret": True,
            },
        ]
    return [
        {
            "name": "api_key",
            "label": provider_class.api_key_label or "API key",
            "help": provider_class.api_key_help,
            "secret": True,
        }
    ]


def rejected_credentials_noun(fields):
    """Return what a tool rejected, for messages: "key" for one API key, else the fields' labels."""
    if [field["name"] for field in fields] == ["api_key"]:
        return "key"
    return " and ".join(_in_sentence(field.get("label") or field["name"]) for field in fields)


def _in_sentence(label):
    """Return a label lower-cased for the middle of a sentence, unless it starts with an acronym ("API token")."""
    if label[1:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def rejection_field(fields):
    """Return the name of the field that carries a rejection of the credentials: the last secret one."""
    secret_names = [field["name"] for field in fields if field.get("secret", True)]
    return (secret_names or [fields[-1]["name"]])[-1]


def _option_field(option):
    label = option.get("label") or option["name"]
    return forms.CharField(
        label=label,
        help_text=option.get("help", ""),
        max_length=OPTION_MAX_LENGTH,
        required=option.get("required", True),
        error_messages={"required": f"Enter the {label}. {option.get('help', '')}".strip()},
    )


def _credential_field(spec, provider_class):
    label = spec.get("label") or spec["name"]
    if spec.get("type") == "email":
        field = forms.EmailField(
            max_length=254,
            error_messages={"invalid": f"Enter the {label} as an address such as admin@example.com."},
        )
        field.widget.attrs["autocomplete"] = "email"
    elif spec.get("secret", True):
        field = forms.CharField(
            strip=True,
            max_length=CREDENTIAL_MAX_LENGTH,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        )
    else:
        field = forms.CharField(strip=True, max_length=CREDENTIAL_MAX_LENGTH)
    field.label = label
    field.help_text = spec.get("help", "")
    verb = "Paste" if spec.get("secret", True) else "Enter"
    field.error_messages["required"] = f"{verb} the {label} from {provider_class.label}."
    return field


class ConnectOptionsForm(forms.Form):
    """
    The options a provider requires before connecting, such as Zendesk's subdomain, each checked by the provider.

    After validation `options` contains the cleaned values.
    """

    def __init__(self, *args, provider_class, with_options=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.provider_class = provider_class
        self.option_names = []
        self.options = {}
        if with_options:
            for option in connect_options(provider_class):
                self.fields[option["name"]] = _option_field(option)
                self.option_names.append(option["name"])

    def clean(self):
        cleaned_data = super().clean()
        if self.option_names:
            values = {name: cleaned_data.get(name) or "" for name in self.option_names}
            try:
                self.options = clean_connect_options(self.provider_class, values)
            except InvalidConnectInput as error:
                for name, message in error.errors.items():
                    # A field that Django already rejected keeps its own message.
                    if name not in self.errors:
                        self.add_error(name, message)
        return cleaned_data


class ApiKeyForm(ConnectOptionsForm):
    """
    The connect options and the API key, or API token and email, of one provider.

    Secret fields never render their value back, so a page that shows the
    form again after an error doesn't echo them. After validation
    `credentials` contains what to store encrypted, and `connection_options()`
    returns the connection's non-secret options.
    """

    display_name = forms.CharField(
        required=False,
        max_length=DISPLAY_NAME_MAX_LENGTH,
        help_text="Shown on the Connections page. Leave empty to use the account's name in the tool.",
    )

    def __init__(self, *args, provider_class, with_options=True, with_display_name=True, **kwargs):
        super().__init__(*args, provider_class=provider_class, with_options=with_options, **kwargs)
        self.credential_specs = credential_fields(provider_class)
        self.credentials = {}
        self.key_options = {}
        for spec in self.credential_specs:
            self.fields[spec["name"]] = _credential_field(spec, provider_class)
        if with_display_name:
            self.order_fields([*self.option_names, *(spec["name"] for spec in self.credential_specs), "display_name"])
        else:
            del self.fields["display_name"]

    def clean(self):
        cleaned_data = super().clean()
        names = [spec["name"] for spec in self.credential_specs]
        if any(name in self.errors for name in names):
            return cleaned_data
        try:
            self.credentials, self.key_options = clean_credentials(
                self.provider_class, {name: cleaned_data.get(name, "") for name in names}
            )
        except InvalidConnectInput as error:
            for name, message in error.errors.items():
                self.add_error(name if name in self.fields else None, message)
        return cleaned_data

    @property
    def rejection_field(self):
        return rejection_field(self.credential_specs)

    @property
    def rejected_noun(self):
        return rejected_credentials_noun(self.credential_specs)

    def secret_values(self):
        """Return the secret values entered, to redact from any message a tool sends back."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return [
            data[spec["name"]]
            for spec in self.credential_specs
            if spec.get("secret", True) and data.get(spec["name"])
        ]

    def connection_options(self):
        """Return the connection's options: the connect options with those derived from the key."""
        return {**self.options, **self.key_options}


class RenameForm(forms.ModelForm):
    class Meta:
        model = Connection
        fields = ["display_name"]
        labels = {"display_name": "Name"}
        help_texts = {"display_name": f"Shown on the Connections page, up to {DISPLAY_NAME_MAX_LENGTH} characters."}
        error_messages = {
            "display_name": {
                "required": "Enter a name for the connection.",
                "max_length": f"The name can have at most {DISPLAY_NAME_MAX_LENGTH} characters.",
            }
        }
