"""The Balrog stand-in answers the workflow and Firefox as Balrog and its Auth0 tenant do."""

import json

import balrogclient
import pytest
import requests

from local_stack.standins.balrog import version_key

PICTURE_IN_PICTURE = "pictureinpicture@mozilla.org"
WEBCOMPAT = "webcompat@mozilla.org"
WINDOWS = "WINNT_x86_64-msvc-x64"
LINUX = "Linux_x86_64-gcc3"
SHA512 = "c0ffee" * 21 + "ab"


def xpi_file(addon_id: str, version: str, size: int = 40960, host="archive.mozilla.org") -> dict:
    return {
        "fileUrl": f"https://{host}/pub/system-addons/{addon_id}/{addon_id}-{version}.xpi",
        "hashValue": SHA512,
        "filesize": size,
    }


def addon(addon_id: str, version: str, **platforms) -> dict:
    return {"version": version, "platforms": platforms or {"default": xpi_file(addon_id, version)}}


def release_blob(name: str, *addons: tuple[str, dict]) -> dict:
    return {
        "name": name,
        "schema_version": 5000,
        "hashFunction": "sha512",
        "addons": dict(addons),
    }


PIP_RELEASE = release_blob(
    "SystemAddons-pictureinpicture-1.2", (PICTURE_IN_PICTURE, addon(PICTURE_IN_PICTURE, "1.2"))
)


def create_release(session, balrog_url, blob: dict) -> requests.Response:
    return session.post(
        f"{balrog_url}/api/releases",
        json={"name": blob["name"], "product": "SystemAddons", "blob": json.dumps(blob)},
    )


def create_rule(session, balrog_url, **fields) -> requests.Response:
    rule = {"product": "SystemAddons", "backgroundRate": 100, "priority": 50}
    rule.update(update_type="minor", **fields)
    return session.post(f"{balrog_url}/api/rules", json=rule)


def client_kwargs(auth0_secrets, balrog_url, local_tls) -> dict:
    """Arguments for balrogclient's Release and Rule, trusting only the local CA."""
    session = requests.Session()
    # balrogclient fetches its token with the session's own verify setting, which
    # REQUESTS_CA_BUNDLE in the environment would otherwise replace.
    session.trust_env = False
    session.verify = str(local_tls.ca_path)
    return {
        "auth0_secrets": auth0_secrets,
        "api_root": f"{balrog_url}/api",
        "ca_certs": str(local_tls.ca_path),
        "timeout": 10,
        "session": session,
    }


def update_xml(
    session,
    balrog_url,
    *,
    version="134.0",
    channel="release",
    build_target=WINDOWS,
    locale="en-US",
    os_version="Windows_NT 10.0.0.0 (x64)",
    distribution="default",
    dist_version="default",
    build_id="20250101000000",
) -> str:
    response = session.get(
        f"{balrog_url}/update/3/SystemAddons/{version}/{build_id}/{build_target}/{locale}"
        f"/{channel}/{os_version}/{distribution}/{dist_version}/update.xml"
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    return response.text


def addon_element(addon_id: str, version: str, file: dict) -> str:
    return (
        f'        <addon id="{addon_id}" URL="{file["fileUrl"]}" hashFunction="sha512" '
        f'hashValue="{file["hashValue"]}" size="{file["filesize"]}" version="{version}"/>'
    )


NOTHING_APPLIES = '<?xml version="1.0"?>\n<updates>\n</updates>'


# Auth0 and bearer tokens


def test_known_client_gets_a_token_the_way_balrogclient_asks(auth0_secrets, session):
    token = balrogclient.api._get_auth0_token(auth0_secrets, session)

    answer = session.post(
        f"https://{auth0_secrets['domain']}/oauth/token",
        json={**auth0_secrets, "grant_type": "client_credentials"},
    ).json()
    assert token
    assert answer["expires_in"] == 86400
    assert answer["token_type"] == "Bearer"
    assert answer["access_token"] != token


def test_wrong_client_secret_gets_no_token_and_is_not_echoed(auth0_secrets, session):
    wrong_secret = "not-the-secret-0123"

    response = session.post(
        f"https://{auth0_secrets['domain']}/oauth/token",
        json={**auth0_secrets, "client_secret": wrong_secret, "grant_type": "client_credentials"},
    )

    assert response.status_code == 401
    assert response.json() == {"error": "access_denied", "error_description": "Unauthorized"}
    assert wrong_secret not in response.text
    assert auth0_secrets["client_secret"] not in response.text


@pytest.mark.parametrize("authorization", [None, "Bearer made-up-token", "Basic dXNlcjpwYXNz"])
def test_admin_api_needs_a_token_it_issued(balrog_url, session, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = session.get(f"{balrog_url}/api/rules", headers=headers)

    assert response.status_code == 401
    assert response.json()["detail"] == "Login is required"
    assert response.json()["status"] == 401


# Releases


def test_created_release_is_read_back_by_balrogclient_with_its_data_version(
    balrog, balrog_session, balrog_url, auth0_secrets, local_tls
):
    created = create_release(balrog_session, balrog_url, PIP_RELEASE)
    release = balrogclient.Release(
        name=PIP_RELEASE["name"], **client_kwargs(auth0_secrets, balrog_url, local_tls)
    )

    assert created.status_code == 201
    assert created.json() == {"new_data_version": 1}
    assert release.get_data() == (PIP_RELEASE, 1)
    assert balrog.releases[PIP_RELEASE["name"]]["product"] == "SystemAddons"
    assert balrog.write_count("release", PIP_RELEASE["name"]) == 1


def test_creating_an_existing_release_is_refused_naming_it(balrog, balrog_session, balrog_url):
    create_release(balrog_session, balrog_url, PIP_RELEASE)

    response = create_release(balrog_session, balrog_url, PIP_RELEASE)

    assert response.status_code == 400
    assert response.json()["detail"] == f"Release: {PIP_RELEASE['name']} already exists"
    assert balrog.write_count("release", PIP_RELEASE["name"]) == 1


def test_missing_release_is_not_found(balrog_session, balrog_url):
    url = f"{balrog_url}/api/releases/SystemAddons-nothing-0.1"

    assert balrog_session.get(url).status_code == 404
    assert balrog_session.head(url).status_code == 404


def test_release_head_answers_its_data_version(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)

    response = balrog_session.head(f"{balrog_url}/api/releases/{PIP_RELEASE['name']}")

    assert response.status_code == 200
    assert response.headers["X-Data-Version"] == "1"


def test_put_replaces_the_blob_at_the_current_data_version(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    newer = release_blob(
        PIP_RELEASE["name"],
        (PICTURE_IN_PICTURE, addon(PICTURE_IN_PICTURE, "1.2")),
        (WEBCOMPAT, addon(WEBCOMPAT, "140.1.0")),
    )

    response = balrog_session.put(
        f"{balrog_url}/api/releases/{PIP_RELEASE['name']}",
        json={
            "name": newer["name"],
            "product": "SystemAddons",
            "blob": json.dumps(newer),
            "data_version": 1,
        },
    )

    assert response.status_code == 200
    assert response.json() == {"new_data_version": 2}
    assert balrog.releases[PIP_RELEASE["name"]]["blob"] == newer


def test_put_creates_a_missing_release(balrog, balrog_session, balrog_url):
    response = balrog_session.put(
        f"{balrog_url}/api/releases/{PIP_RELEASE['name']}",
        json={
            "name": PIP_RELEASE["name"],
            "product": "SystemAddons",
            "blob": json.dumps(PIP_RELEASE),
        },
    )

    assert response.status_code == 201
    assert balrog.releases[PIP_RELEASE["name"]]["data_version"] == 1


def test_put_with_an_outdated_data_version_is_refused_as_balrog_does(
    balrog, balrog_session, balrog_url
):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    body = {
        "name": PIP_RELEASE["name"],
        "product": "SystemAddons",
        "blob": json.dumps(PIP_RELEASE),
        "data_version": 1,
    }
    balrog_session.put(f"{balrog_url}/api/releases/{PIP_RELEASE['name']}", json=body)

    response = balrog_session.put(f"{balrog_url}/api/releases/{PIP_RELEASE['name']}", json=body)

    assert response.status_code == 400
    problem = response.json()
    assert (problem["title"], problem["detail"]) == ("Bad Request", "OutdatedDataError")
    assert problem["exception"] == (
        "Couldn't perform the request PUT. Outdated Data Version. "
        "old_data_version doesn't match current data_version"
    )
    assert balrog.releases[PIP_RELEASE["name"]]["data_version"] == 2


def test_update_release_replaces_top_level_keys_and_keeps_the_rest(
    balrog, balrog_url, auth0_secrets, local_tls
):
    balrog.seed_release(PIP_RELEASE["name"], {**PIP_RELEASE, "product": "SystemAddons"})
    release = balrogclient.Release(
        name=PIP_RELEASE["name"], **client_kwargs(auth0_secrets, balrog_url, local_tls)
    )
    addons = {PICTURE_IN_PICTURE: addon(PICTURE_IN_PICTURE, "1.3")}

    response = release.update_release(
        "SystemAddons", "sha512", json.dumps({"addons": addons}), schemaVersion=5000
    )

    assert response.json() == {"new_data_version": 2}
    blob = balrog.releases[PIP_RELEASE["name"]]["blob"]
    assert blob["addons"] == addons
    assert blob["product"] == "SystemAddons"


def test_update_release_with_an_outdated_data_version_is_refused_as_balrog_does(
    balrog, balrog_url, auth0_secrets, local_tls
):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    release = balrogclient.Release(
        name=PIP_RELEASE["name"], **client_kwargs(auth0_secrets, balrog_url, local_tls)
    )
    release.update_release("SystemAddons", "sha512", json.dumps(PIP_RELEASE), data_version=1)

    with pytest.raises(requests.HTTPError) as refused:
        release.update_release("SystemAddons", "sha512", json.dumps(PIP_RELEASE), data_version=1)

    assert refused.value.response.status_code == 400
    assert refused.value.response.json()["detail"] == (
        "Couldn't update release: Failed to update row, "
        "old_data_version doesn't match current data_version"
    )
    assert balrog.write_count("release", PIP_RELEASE["name"]) == 1


def test_update_release_cannot_create_a_systemaddons_release(
    balrog, balrog_url, auth0_secrets, local_tls
):
    release = balrogclient.Release(
        name=PIP_RELEASE["name"], **client_kwargs(auth0_secrets, balrog_url, local_tls)
    )

    with pytest.raises(requests.HTTPError) as refused:
        release.update_release("SystemAddons", "sha512", json.dumps(PIP_RELEASE))

    assert refused.value.response.status_code == 400
    assert refused.value.response.json()["detail"].startswith("Couldn't create release: ")
    assert balrog.releases == {}


def test_releases_are_listed_by_product_and_name_prefix(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    webcompat = release_blob("SystemAddons-webcompat-140.1.0", (WEBCOMPAT, addon(WEBCOMPAT, "1")))
    balrog.seed_release(webcompat["name"], webcompat)
    balrog.seed_rule(
        channel="release",
        mapping=webcompat["name"],
        backgroundRate=100,
        priority=10,
        update_type="minor",
        product="SystemAddons",
    )

    names = balrog_session.get(
        f"{balrog_url}/api/releases",
        params={"product": "SystemAddons", "name_prefix": "SystemAddons-web", "names_only": 1},
    ).json()
    releases = balrog_session.get(f"{balrog_url}/api/releases").json()["releases"]

    assert names == {"names": ["SystemAddons-webcompat-140.1.0"]}
    assert [(release["name"], release["rule_ids"]) for release in releases] == [
        ("SystemAddons-pictureinpicture-1.2", []),
        ("SystemAddons-webcompat-140.1.0", [1]),
    ]


def _blob_with(**changes) -> dict:
    blob = json.loads(json.dumps(PIP_RELEASE))
    blob.update(changes)
    return blob


def _platforms(**platforms) -> dict:
    return {PICTURE_IN_PICTURE: {"version": "1.2", "platforms": platforms}}


@pytest.mark.parametrize(
    ("blob", "named"),
    [
        (_blob_with(schema_version=1000), "schema_version: 1000 is not one of [5000]"),
        (
            _blob_with(
                addons=_platforms(default=xpi_file(PICTURE_IN_PICTURE, "1.2", host="evil.example"))
            ),
            "'evil.example' is not an allowed domain",
        ),
        (
            _blob_with(
                addons=_platforms(
                    default={
                        **xpi_file(PICTURE_IN_PICTURE, "1.2"),
                        "fileUrl": "http://archive.mozilla.org/a.xpi",
                    }
                )
            ),
            "'http://archive.mozilla.org/a.xpi' is not an https URL",
        ),
        (
            _blob_with(addons=_platforms(**{LINUX: {"alias": WINDOWS}})),
            f"addons.{PICTURE_IN_PICTURE}.platforms.{LINUX}.alias: '{WINDOWS}' is not a platform",
        ),
        (
            _blob_with(
                addons=_platforms(
                    default={"fileUrl": "https://archive.mozilla.org/a.xpi", "filesize": 1}
                )
            ),
            "platforms.default: 'hashValue' is a required property",
        ),
        (_blob_with(name="SystemAddons-other"), "name: 'SystemAddons-other' does not match"),
        (_blob_with(uninstall=True), "needs either 'addons' or 'uninstall'"),
        (_blob_with(channel="release"), "'channel' was unexpected"),
    ],
    ids=[
        "wrong schema_version",
        "file outside allowed domains",
        "file not over https",
        "alias to a missing platform",
        "file without hash",
        "name not the release name",
        "addons and uninstall",
        "unknown top-level key",
    ],
)
def test_invalid_blob_is_refused_naming_the_field(balrog, balrog_session, balrog_url, blob, named):
    response = balrog_session.post(
        f"{balrog_url}/api/releases",
        json={"name": PIP_RELEASE["name"], "product": "SystemAddons", "blob": json.dumps(blob)},
    )

    assert response.status_code == 400
    assert named in response.json()["detail"]
    assert balrog.releases == {}


def test_seeding_an_invalid_release_raises(balrog):
    with pytest.raises(ValueError, match="schema_version"):
        balrog.seed_release("SystemAddons-old", {"name": "SystemAddons-old", "schema_version": 4})


# Rules


def test_created_rule_is_read_back_with_every_field(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)

    created = create_rule(
        balrog_session,
        balrog_url,
        channel="release-sysaddon",
        mapping=PIP_RELEASE["name"],
        alias="sysaddon-test",
        comment="QA of pictureinpicture 1.2",
    )
    read = balrog_session.get(f"{balrog_url}/api/rules/{created.text}")

    assert created.status_code == 200
    rule_id = int(created.text)
    assert read.headers["X-Data-Version"] == "1"
    rule = read.json()
    assert rule["rule_id"] == rule_id
    assert rule["mapping"] == PIP_RELEASE["name"]
    assert rule["channel"] == "release-sysaddon"
    assert rule["version"] is None
    assert rule["fallbackMapping"] is None
    assert balrog.write_count("rule", rule_id) == 1


@pytest.mark.parametrize("field", ["update_type", "backgroundRate", "priority"])
def test_rule_without_a_required_field_is_refused(balrog, balrog_session, balrog_url, field):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    rule = {
        "product": "SystemAddons",
        "channel": "release",
        "mapping": PIP_RELEASE["name"],
        "update_type": "minor",
        "backgroundRate": 100,
        "priority": 50,
    }
    del rule[field]

    response = balrog_session.post(f"{balrog_url}/api/rules", json=rule)

    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert balrog.rules == {}


def test_rule_mapping_to_an_unknown_release_is_refused(balrog, balrog_session, balrog_url):
    response = create_rule(
        balrog_session, balrog_url, channel="release", mapping="SystemAddons-missing"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid mapping value. No release name found in DB"
    assert balrog.rules == {}


def test_rule_alias_is_unique(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    create_rule(balrog_session, balrog_url, mapping=PIP_RELEASE["name"], alias="sysaddon-release")

    response = create_rule(
        balrog_session, balrog_url, mapping=PIP_RELEASE["name"], alias="sysaddon-release"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "Rule with alias exists."


def test_rule_is_pointed_at_a_new_release_by_balrogclient(
    balrog, balrog_url, auth0_secrets, local_tls
):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    newer = release_blob(
        "SystemAddons-pictureinpicture-1.3", (PICTURE_IN_PICTURE, addon(PICTURE_IN_PICTURE, "1.3"))
    )
    balrog.seed_release(newer["name"], newer)
    rule_id = balrog.seed_rule(
        product="SystemAddons",
        channel="release",
        mapping=PIP_RELEASE["name"],
        backgroundRate=100,
        priority=50,
        update_type="minor",
        alias="sysaddon-release",
    )
    rule = balrogclient.Rule(
        rule_id="sysaddon-release", **client_kwargs(auth0_secrets, balrog_url, local_tls)
    )

    response = rule.update_rule(mapping=newer["name"])

    assert response.json() == {"new_data_version": 2}
    assert balrog.rules[rule_id]["mapping"] == newer["name"]
    assert balrog.write_count("rule", rule_id) == 1


def test_rule_update_with_an_outdated_data_version_is_refused_as_balrog_does(
    balrog, balrog_session, balrog_url
):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    rule_id = balrog.seed_rule(
        product="SystemAddons",
        channel="release",
        mapping=PIP_RELEASE["name"],
        backgroundRate=100,
        priority=50,
        update_type="minor",
    )
    url = f"{balrog_url}/api/rules/{rule_id}"
    balrog_session.post(url, json={"priority": 60, "data_version": 1})

    response = balrog_session.post(url, json={"priority": 70, "data_version": 1})

    assert response.status_code == 400
    problem = response.json()
    assert problem["detail"] == "OutdatedDataError"
    assert problem["exception"].startswith("Couldn't perform the request POST. Outdated Data")
    assert balrog.rules[rule_id]["priority"] == 60


def test_rule_update_needs_a_data_version(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    rule_id = balrog.seed_rule(
        product="SystemAddons",
        channel="release",
        mapping=PIP_RELEASE["name"],
        backgroundRate=100,
        priority=50,
        update_type="minor",
    )

    response = balrog_session.put(f"{balrog_url}/api/rules/{rule_id}", json={"priority": 60})

    assert response.status_code == 400
    assert "data_version" in response.json()["detail"]


def test_rule_is_deleted_only_at_its_current_data_version(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    rule_id = balrog.seed_rule(
        product="SystemAddons",
        channel="release-sysaddon",
        mapping=PIP_RELEASE["name"],
        backgroundRate=100,
        priority=50,
        update_type="minor",
    )
    url = f"{balrog_url}/api/rules/{rule_id}"

    stale = balrog_session.delete(url, params={"data_version": 2})
    current = balrog_session.delete(url, params={"data_version": 1})

    assert stale.status_code == 400
    assert current.status_code == 200
    assert balrog.rules == {}


def test_rules_are_listed_for_a_product_highest_priority_first(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    for product, priority in (("SystemAddons", 10), ("Firefox", 90), ("SystemAddons", 30)):
        balrog.seed_rule(
            product=product,
            channel="release",
            mapping=PIP_RELEASE["name"],
            backgroundRate=100,
            priority=priority,
            update_type="minor",
        )

    listed = balrog_session.get(f"{balrog_url}/api/rules", params={"product": "SystemAddons"})

    assert listed.json()["count"] == 2
    assert [rule["priority"] for rule in listed.json()["rules"]] == [30, 10]


# update.xml, the endpoint Firefox polls


@pytest.fixture
def serve(balrog):
    """Seed a release and a rule serving it; answers the release's blob."""

    def serve(blob: dict, **rule) -> dict:
        if blob["name"] not in balrog.releases:
            balrog.seed_release(blob["name"], blob)
        fields = {
            "product": "SystemAddons",
            "channel": "release",
            "backgroundRate": 100,
            "priority": 50,
            "update_type": "minor",
            "mapping": blob["name"],
        }
        balrog.seed_rule(**{**fields, **rule})
        return blob

    return serve


def test_update_xml_lists_every_add_on_of_the_served_release(serve, session, balrog_url):
    pip, webcompat = addon(PICTURE_IN_PICTURE, "1.2"), addon(WEBCOMPAT, "140.1.0")
    serve(release_blob("SystemAddons-both", (WEBCOMPAT, webcompat), (PICTURE_IN_PICTURE, pip)))

    answer = update_xml(session, balrog_url)

    assert answer == "\n".join(
        [
            '<?xml version="1.0"?>',
            "<updates>",
            "    <addons>",
            addon_element(PICTURE_IN_PICTURE, "1.2", pip["platforms"]["default"]),
            addon_element(WEBCOMPAT, "140.1.0", webcompat["platforms"]["default"]),
            "    </addons>",
            "</updates>",
        ]
    )


def test_update_xml_follows_a_platform_alias(serve, session, balrog_url):
    windows_file = xpi_file(PICTURE_IN_PICTURE, "1.2-win", size=5)
    serve(
        release_blob(
            "SystemAddons-alias",
            (
                PICTURE_IN_PICTURE,
                {
                    "version": "1.2",
                    "platforms": {
                        WINDOWS: windows_file,
                        "WINNT_aarch64-msvc-aarch64": {"alias": WINDOWS},
                    },
                },
            ),
        )
    )

    on_arm = update_xml(session, balrog_url, build_target="WINNT_aarch64-msvc-aarch64")

    assert addon_element(PICTURE_IN_PICTURE, "1.2", windows_file) in on_arm


def test_add_on_without_a_file_for_the_platform_is_left_out(serve, session, balrog_url):
    serve(
        release_blob(
            "SystemAddons-windows-only",
            (
                PICTURE_IN_PICTURE,
                addon(PICTURE_IN_PICTURE, "1.2", **{WINDOWS: xpi_file("p", "1")}),
            ),
            (WEBCOMPAT, addon(WEBCOMPAT, "140.1.0")),
        )
    )

    on_linux = update_xml(session, balrog_url, build_target=LINUX)

    assert WEBCOMPAT in on_linux
    assert PICTURE_IN_PICTURE not in on_linux


def test_release_with_nothing_for_the_platform_has_no_addons_element(serve, session, balrog_url):
    serve(
        release_blob(
            "SystemAddons-windows-only",
            (
                PICTURE_IN_PICTURE,
                addon(PICTURE_IN_PICTURE, "1.2", **{WINDOWS: xpi_file("p", "1")}),
            ),
        )
    )

    on_linux = update_xml(session, balrog_url, build_target=LINUX)

    assert "<addons>" not in on_linux
    assert on_linux.startswith('<?xml version="1.0"?>\n<updates>\n')
    assert on_linux.endswith("</updates>")


def test_no_matching_rule_answers_updates_without_addons(serve, session, balrog_url):
    serve(PIP_RELEASE, channel="release")

    assert update_xml(session, balrog_url, channel="beta") == NOTHING_APPLIES


def test_uninstall_release_answers_an_empty_addons_element(serve, session, balrog_url):
    serve({"name": "SystemAddons-uninstall", "schema_version": 5000, "uninstall": True})

    assert update_xml(session, balrog_url) == (
        '<?xml version="1.0"?>\n<updates>\n    <addons>\n    </addons>\n</updates>'
    )


def test_channel_glob_matches_channels_by_prefix(serve, session, balrog_url):
    serve(PIP_RELEASE, channel="release*")

    assert PICTURE_IN_PICTURE in update_xml(session, balrog_url, channel="release-sysaddon")
    assert PICTURE_IN_PICTURE in update_xml(session, balrog_url, channel="release")
    assert update_xml(session, balrog_url, channel="beta") == NOTHING_APPLIES


def test_partner_channel_falls_back_to_its_sysaddon_channel(serve, session, balrog_url):
    serve(PIP_RELEASE, channel="release-sysaddon")

    answer = update_xml(session, balrog_url, channel="release-cck-acme-sysaddon")

    assert PICTURE_IN_PICTURE in answer


def test_version_list_matches_only_the_listed_versions(serve, session, balrog_url):
    serve(PIP_RELEASE, version="133.0.3,134.0")

    assert PICTURE_IN_PICTURE in update_xml(session, balrog_url, version="133.0.3")
    assert PICTURE_IN_PICTURE in update_xml(session, balrog_url, version="134.0")
    assert update_xml(session, balrog_url, version="133.0") == NOTHING_APPLIES


@pytest.mark.parametrize(
    ("rule_version", "client_version", "served"),
    [
        ("<134.0", "133.0.1", True),
        ("<134.0", "134.0b9", True),
        ("<134.0", "134.0", False),
        ("<=134.0", "134.0", True),
        (">=133.0.1", "133.0", False),
        (">=133.0.1", "133.0.1", True),
        (">133.0", "133.0.1", True),
        (">134.0a1", "134.0b1", True),
        ("134.*", "134.0.2", True),
        ("134.*", "135.0", False),
    ],
)
def test_version_comparison_orders_firefox_versions(
    serve, session, balrog_url, rule_version, client_version, served
):
    serve(PIP_RELEASE, version=rule_version)

    answer = update_xml(session, balrog_url, version=client_version)

    assert (PICTURE_IN_PICTURE in answer) is served


def test_firefox_versions_sort_releases_after_their_pre_releases():
    ordered = ["133.0", "133.0.1", "134.0a1", "134.0b1", "134.0b10", "134.0", "134.0.1", "135.0"]

    assert sorted(ordered, key=version_key) == ordered


def test_highest_priority_rule_wins(serve, session, balrog_url):
    newer = release_blob(
        "SystemAddons-newer", (PICTURE_IN_PICTURE, addon(PICTURE_IN_PICTURE, "2.0"))
    )
    serve(PIP_RELEASE, priority=50)
    serve(newer, priority=90)
    serve(PIP_RELEASE, priority=70)

    assert 'version="2.0"' in update_xml(session, balrog_url)


def test_rule_matches_on_locale_list_build_target_and_os_version(serve, session, balrog_url):
    serve(PIP_RELEASE, locale="de,fr", buildTarget=WINDOWS, osVersion="Windows_NT 10.0")

    assert PICTURE_IN_PICTURE in update_xml(session, balrog_url, locale="fr")
    assert update_xml(session, balrog_url, locale="en-US") == NOTHING_APPLIES
    assert update_xml(session, balrog_url, locale="fr", build_target=LINUX) == NOTHING_APPLIES
    assert update_xml(session, balrog_url, locale="fr", os_version="Linux 6.1") == NOTHING_APPLIES


def test_background_rate_zero_serves_the_fallback_release(serve, balrog, session, balrog_url):
    fallback = release_blob("SystemAddons-fallback", (WEBCOMPAT, addon(WEBCOMPAT, "139.0.0")))
    balrog.seed_release(fallback["name"], fallback)
    serve(PIP_RELEASE, backgroundRate=0, fallbackMapping=fallback["name"])

    answer = update_xml(session, balrog_url)

    assert WEBCOMPAT in answer
    assert PICTURE_IN_PICTURE not in answer


def test_update_xml_escapes_attribute_values(serve, session, balrog_url):
    file = xpi_file(PICTURE_IN_PICTURE, "1.2")
    file["fileUrl"] += '?a=1&b="2"'
    serve(
        release_blob(
            "SystemAddons-odd-url",
            (PICTURE_IN_PICTURE, {"version": "1.2", "platforms": {"default": file}}),
        )
    )

    answer = update_xml(session, balrog_url)

    assert 'xpi?a=1&amp;b=&quot;2&quot;"' in answer


# Faults


def test_lost_response_on_a_release_write_still_writes(balrog, balrog_session, balrog_url):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    balrog.faults.add("PUT", r"/api/releases/.+", "lost_response")
    body = {
        "name": PIP_RELEASE["name"],
        "product": "SystemAddons",
        "blob": json.dumps(PIP_RELEASE),
        "data_version": 1,
    }

    with pytest.raises(requests.exceptions.ConnectionError):
        balrog_session.put(f"{balrog_url}/api/releases/{PIP_RELEASE['name']}", json=body)

    assert balrog.write_count("release", PIP_RELEASE["name"]) == 1
    assert balrog.releases[PIP_RELEASE["name"]]["data_version"] == 2


@pytest.mark.parametrize(("kind", "status"), [("throttle429", 429), ("error503", 503)])
def test_refused_rule_write_changes_nothing(balrog, balrog_session, balrog_url, kind, status):
    balrog.seed_release(PIP_RELEASE["name"], PIP_RELEASE)
    balrog.faults.add("POST", "/api/rules", kind)

    response = create_rule(balrog_session, balrog_url, mapping=PIP_RELEASE["name"])

    assert response.status_code == status
    assert balrog.rules == {}
