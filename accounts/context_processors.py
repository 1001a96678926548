def workspace(request):
    """Put the workspace the page belongs to, and the member's role in it, into every template."""
    return {
        "current_workspace": getattr(request, "workspace", None),
        "current_membership": getattr(request, "membership", None),
    }
