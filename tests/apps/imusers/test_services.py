from __future__ import annotations

import pytest

from apps.core.errors import Conflict, InvalidField
from apps.imusers.selectors import imuser_authenticate, imuser_get, imuser_list
from apps.imusers.services import (
    imuser_block,
    imuser_create,
    imuser_set_token,
    imuser_unblock,
    imuser_update,
)
from tests.factories import DEFAULT_TOKEN, AppFactory, ImUserFactory

pytestmark = pytest.mark.django_db


def test_create_hashes_the_token_with_a_fresh_salt():
    app = AppFactory()
    first, token_1 = imuser_create(app=app, accid="a", token="same-token")
    second, token_2 = imuser_create(app=app, accid="b", token="same-token")
    assert token_1 == token_2 == "same-token"
    assert first.token_hash != second.token_hash
    assert "same-token" not in first.token_hash


def test_create_refuses_a_duplicate_accid_in_the_same_app():
    app = AppFactory()
    imuser_create(app=app, accid="dup")
    with pytest.raises(Conflict):
        imuser_create(app=app, accid="dup")


def test_accids_are_case_sensitive():
    app = AppFactory()
    imuser_create(app=app, accid="Ann")
    imuser_create(app=app, accid="ann")
    assert imuser_get(app=app, accid="Ann").pk != imuser_get(app=app, accid="ann").pk


def test_update_leaves_unnamed_fields_alone():
    user = ImUserFactory(name="N", avatar="A", ext="E")
    imuser_update(user=user, ext="")
    user.refresh_from_db()
    assert (user.name, user.avatar, user.ext) == ("N", "A", "")


def test_update_refuses_an_overlong_field():
    with pytest.raises(InvalidField) as caught:
        imuser_update(user=ImUserFactory(), avatar="a" * 1025)
    assert caught.value.field == "avatar"


def test_set_token_bumps_the_credentials_version():
    user = ImUserFactory()
    before = user.credentials_version
    imuser_set_token(user=user)
    assert user.credentials_version == before + 1
    assert imuser_authenticate(app=user.app, accid=user.accid, token=DEFAULT_TOKEN) is None


def test_block_and_unblock():
    user = ImUserFactory()
    imuser_block(user=user, kick=False)
    assert imuser_authenticate(app=user.app, accid=user.accid, token=DEFAULT_TOKEN) is None
    imuser_unblock(user=user)
    assert imuser_authenticate(app=user.app, accid=user.accid, token=DEFAULT_TOKEN) == user


def test_authenticate_is_scoped_to_the_app():
    user = ImUserFactory()
    assert imuser_authenticate(app=AppFactory(), accid=user.accid, token=DEFAULT_TOKEN) is None


def test_list_clamps_the_page_size():
    app = AppFactory()
    ImUserFactory.create_batch(3, app=app)
    page = imuser_list(app=app, after_id=None, limit=1000)
    assert len(page.users) == 3
    assert page.next_after_id is None
