"""The PyPI `pusher` SDK (3.x) against the real relay server: trigger, batch trigger, channel
queries (GET requests carry body_md5 of the empty body), terminate_user_connections (sent to
/users/{id}/terminate_connections without /apps/{id}), and subscribers on raw WebSockets."""

import json

import pusher
import pytest
from pusher.errors import PusherBadAuth, PusherBadRequest


def presence_subscribe(client, ws, channel, user_id, info=None):
    # The SDK serialises channel_data with json.dumps' default ", " / ": " separators: the relay
    # must verify the signature over these exact bytes.
    custom = {"user_id": user_id, "user_info": info or {"name": "Py %s" % user_id}}
    auth = client.authenticate(channel=channel, socket_id=ws.socket_id, custom_data=custom)
    assert ", " in auth["channel_data"]
    return ws.subscribe(channel, auth=auth["auth"], channel_data=auth["channel_data"])


def sign_in(client, ws, user_id):
    auth = client.authenticate_user(ws.socket_id, {"id": user_id})
    ws.send("pusher:signin", {"auth": auth["auth"], "user_data": auth["user_data"]})
    ok = ws.expect("pusher:signin_success")
    data = ok["data"] if isinstance(ok["data"], dict) else json.loads(ok["data"])
    assert data["user_data"] == auth["user_data"]
    return ok


def test_trigger_reaches_a_websocket_subscriber_byte_for_byte(client, raw, uniq):
    ch = uniq("py-public-")
    ws = raw()
    ws.subscribe(ch)
    assert client.trigger(ch, "my-event", {"message": "hello"}) == {}
    frame = ws.expect("my-event", channel=ch)
    assert frame["data"] == '{"message": "hello"}'
    assert "user_id" not in frame


def test_trigger_to_several_channels_with_socket_id_exclusion(client, raw, uniq):
    ch1, ch2 = uniq("py-a-"), uniq("py-b-")
    excluded, other = raw(), raw()
    for ws in (excluded, other):
        ws.subscribe(ch1)
        ws.subscribe(ch2)
    assert client.trigger([ch1, ch2], "fan", "plain text", socket_id=excluded.socket_id) == {}
    assert other.expect("fan", channel=ch1)["data"] == "plain text"
    assert other.expect("fan", channel=ch2)["data"] == "plain text"
    excluded.expect_none("fan")


def test_trigger_batch(client, raw, uniq):
    ch1, ch2 = uniq("py-batch-"), uniq("py-batch-")
    ws = raw()
    ws.subscribe(ch1)
    ws.subscribe(ch2)
    result = client.trigger_batch(
        [
            {"channel": ch1, "name": "first", "data": {"x": 1}},
            {"channel": ch2, "name": "second", "data": "two"},
        ]
    )
    assert result == {}
    assert ws.expect("first", channel=ch1)["data"] == '{"x": 1}'
    assert ws.expect("second", channel=ch2)["data"] == "two"


def test_channels_info_with_prefix_and_user_count(client, raw, uniq):
    tag = uniq()
    pres = "presence-pylist-" + tag
    pub = "pylist-" + tag
    a, b = raw(), raw()
    presence_subscribe(client, a, pres, "alice")
    presence_subscribe(client, b, pres, "bob")
    a.subscribe(pub)
    listed = client.channels_info(prefix_filter="presence-pylist-" + tag, attributes=["user_count"])
    assert listed == {"channels": {pres: {"user_count": 2}}}
    everything = client.channels_info()
    assert everything["channels"][pub] == {}
    assert pres in everything["channels"]


def test_channels_info_user_count_requires_presence_prefix(client):
    with pytest.raises(PusherBadRequest):
        client.channels_info(attributes=["user_count"])


def test_channel_info(client, raw, uniq):
    pres = uniq("presence-pyone-")
    a, b = raw(), raw()
    presence_subscribe(client, a, pres, "same")
    presence_subscribe(client, b, pres, "same")
    info = client.channel_info(pres, ["user_count", "subscription_count"])
    assert info == {"occupied": True, "user_count": 1, "subscription_count": 2}
    assert client.channel_info(uniq("py-empty-")) == {"occupied": False}


def test_users_info(client, raw, uniq):
    pres = uniq("presence-pyusers-")
    for user in ("u1", "u2", "u2"):
        presence_subscribe(client, raw(), pres, user)
    users = client.users_info(pres)
    assert sorted(u["id"] for u in users["users"]) == ["u1", "u2"]


def test_presence_roster_from_sdk_channel_data(client, raw, uniq):
    pres = uniq("presence-pyroster-")
    a, b = raw(), raw()
    presence_subscribe(client, a, pres, "first", {"name": "First"})
    ok = presence_subscribe(client, b, pres, "second", {"name": "Second"})
    roster = json.loads(ok["data"])["presence"]
    assert sorted(roster["ids"]) == ["first", "second"]
    assert roster["count"] == 2
    assert roster["hash"]["first"] == {"name": "First"}
    added = a.expect("pusher_internal:member_added", channel=pres)
    assert json.loads(added["data"]) == {"user_id": "second", "user_info": {"name": "Second"}}


def test_terminate_user_connections(client, raw, uniq):
    user = uniq("pyvictim")
    victim1, victim2, bystander = raw(), raw(), raw()
    sign_in(client, victim1, user)
    sign_in(client, victim2, user)
    sign_in(client, bystander, uniq("pysafe"))
    # The SDK posts to /users/{id}/terminate_connections (no /apps/{id} prefix).
    assert client.terminate_user_connections(user) == {}
    for ws in (victim1, victim2):
        err = ws.expect("pusher:error")
        data = err["data"] if isinstance(err["data"], dict) else json.loads(err["data"])
        assert data["code"] == 4009
        assert ws.wait_closed() == 4009
    bystander.expect_none("pusher:error", seconds=0.5)
    assert bystander.close_code is None


def test_send_to_user(client, raw, uniq):
    user = uniq("pyuser")
    ws = raw()
    sign_in(client, ws, user)
    ws.subscribe("#server-to-user-" + user)
    assert client.send_to_user(user, "notice", {"n": 1}) == {}
    assert ws.expect("notice", channel="#server-to-user-" + user)["data"] == '{"n": 1}'


def test_wrong_secret_is_bad_auth(server, uniq):
    bad = pusher.Pusher(
        app_id="515151", key="py-e2e-key", secret="wrong", ssl=False, host="127.0.0.1", port=server.port
    )
    with pytest.raises(PusherBadAuth):
        bad.trigger(uniq("py-"), "e", {})
    with pytest.raises(PusherBadAuth):
        bad.channels_info()
