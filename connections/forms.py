from django import forms

from connections.models import Connection

DISPLAY_NAME_MAX_LENGTH = Connection._meta.get_field("display_name").max_length


class ApiKeyForm(forms.Form):
    """
    An API key for one provider, with the label and help text the provider gives.

    The key field never renders its value back, so a page that shows the
    form again after an error doesn't echo the key.
    """

    api_key = forms.CharField(
        strip=True,
        max_length=1000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    display_name = forms.CharField(
        required=False,
        max_length=DISPLAY_NAME_MAX_LENGTH,
        help_text="Shown on the Connections page. Leave empty to use the account's name in the tool.",
    )

    def __init__(self, *args, provider_class, with_display_name=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.provider_class = provider_class
        field = self.fields["api_key"]
        field.label = provider_class.api_key_label or "API key"
        field.help_text = provider_class.api_key_help
        field.error_messages["required"] = (
            f"Paste the {field.label} from {provider_class.label}."
        )
        if not with_display_name:
            del self.fields["display_name"]


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
