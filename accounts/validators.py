import unicodedata

from django.core.exceptions import ValidationError

# Unicode categories that draw nothing or reorder text: control characters
# and format characters such as U+200B (zero-width space) and U+202E
# (right-to-left override), which can make one name look like another.
INVISIBLE_CATEGORIES = {"Cc", "Cf"}


def validate_visible_text(value):
    """Raise ValidationError when a name contains control or invisible formatting characters."""
    hidden = sorted({character for character in value or "" if unicodedata.category(character) in INVISIBLE_CATEGORIES})
    if hidden:
        codes = ", ".join(f"U+{ord(character):04X}" for character in hidden)
        raise ValidationError(
            "The name contains invisible or control characters (%(codes)s). Type the name again without them.",
            code="invisible_characters",
            params={"codes": codes},
        )
