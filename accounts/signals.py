from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import ApiKey, Membership


@receiver(post_delete, sender=Membership)
def revoke_keys_of_removed_member(sender, instance, **kwargs):
    """Revoke the API keys a person created in a workspace they no longer belong to."""
    ApiKey.objects.filter(
        workspace_id=instance.workspace_id, created_by_id=instance.user_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
