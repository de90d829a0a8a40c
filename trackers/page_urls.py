"""Routes of the server-rendered pages: the site login, the tracker dashboard and the site root.

The site has its own login because the admin login admits staff only, and most dashboard users
are client users without staff status (see docs/dashboard.md).
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from trackers.pages import DashboardView, HomeView

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", next_page="dashboard", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
]
