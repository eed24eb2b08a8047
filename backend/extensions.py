"""Flask extensions, created without an app and bound in the app factory."""

from __future__ import annotations

from flask_jwt_extended import JWTManager
from flask_socketio import SocketIO

socketio = SocketIO()
jwt = JWTManager()
