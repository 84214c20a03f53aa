//! The static schema data: every attribute of the User, enterprise User,
//! dbt Labs User and Group schemas, and the common attributes (RFC 7643 §3.1,
//! §4, §8.7.1). Descriptions are our own wording.

use super::{
    AttrDef, AttrType, Mutability, Returned, SchemaDef, Uniqueness, DBT_USER_SCHEMA,
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA,
};

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        strict_canonical: false,
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::String, description)
}

const fn boolean(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::Boolean, description)
}

const fn reference(
    name: &'static str,
    types: &'static [&'static str],
    description: &'static str,
) -> AttrDef {
    let mut a = attr(name, AttrType::Reference, description);
    a.reference_types = types;
    a
}

const fn complex(
    name: &'static str,
    subs: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    let mut a = attr(name, AttrType::Complex, description);
    a.sub_attributes = subs;
    a
}

const fn multi(mut a: AttrDef) -> AttrDef {
    a.multi_valued = true;
    a
}

const fn required(mut a: AttrDef) -> AttrDef {
    a.required = true;
    a
}

const fn exact(mut a: AttrDef) -> AttrDef {
    a.case_exact = true;
    a
}

const fn read_only(mut a: AttrDef) -> AttrDef {
    a.mutability = Mutability::ReadOnly;
    a
}

const fn immutable(mut a: AttrDef) -> AttrDef {
    a.mutability = Mutability::Immutable;
    a
}

const fn canonical(mut a: AttrDef, values: &'static [&'static str]) -> AttrDef {
    a.canonical_values = values;
    a
}

const fn strict(mut a: AttrDef) -> AttrDef {
    a.strict_canonical = true;
    a
}

const PRIMARY: AttrDef = boolean(
    "primary",
    "Whether this is the preferred value of the attribute; at most one value is primary.",
);
const DISPLAY: AttrDef = string("display", "A human-readable label for the value.");

// ---- common attributes -------------------------------------------------

static META_SUBS: [AttrDef; 5] = [
    read_only(exact(string(
        "resourceType",
        "The name of the resource type of the resource.",
    ))),
    read_only(attr(
        "created",
        AttrType::DateTime,
        "When the resource was added to the service provider.",
    )),
    read_only(attr(
        "lastModified",
        AttrType::DateTime,
        "When the resource was last changed.",
    )),
    read_only(reference(
        "location",
        &["uri"],
        "The URI of the resource being returned.",
    )),
    read_only(exact(string(
        "version",
        "The version (ETag) of the resource.",
    ))),
];

pub(super) static COMMON: [AttrDef; 3] = [
    {
        let mut a = read_only(exact(string(
            "id",
            "Unique identifier of the resource, assigned by the service provider.",
        )));
        a.returned = Returned::Always;
        a.uniqueness = Uniqueness::Server;
        a
    },
    exact(string(
        "externalId",
        "Identifier of the resource as defined by the provisioning client.",
    )),
    read_only(complex(
        "meta",
        &META_SUBS,
        "Resource metadata maintained by the service provider.",
    )),
];

// ---- User --------------------------------------------------------------

static NAME_SUBS: [AttrDef; 6] = [
    string("formatted", "The full name, formatted for display."),
    string("familyName", "The family (last) name."),
    string("givenName", "The given (first) name."),
    string("middleName", "The middle name(s)."),
    string("honorificPrefix", "The honorific prefix, such as 'Ms.'."),
    string("honorificSuffix", "The honorific suffix, such as 'III'."),
];

static EMAIL_SUBS: [AttrDef; 4] = [
    string("value", "The email address."),
    DISPLAY,
    canonical(
        string("type", "The kind of email address."),
        &["work", "home", "other"],
    ),
    PRIMARY,
];

static PHONE_SUBS: [AttrDef; 4] = [
    string("value", "The phone number."),
    DISPLAY,
    canonical(
        string("type", "The kind of phone number."),
        &["work", "home", "mobile", "fax", "pager", "other"],
    ),
    PRIMARY,
];

static IM_SUBS: [AttrDef; 4] = [
    string("value", "The instant messaging address."),
    DISPLAY,
    canonical(
        string("type", "The instant messaging service."),
        &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
    ),
    PRIMARY,
];

static PHOTO_SUBS: [AttrDef; 4] = [
    reference("value", &["external"], "The URL of the image."),
    DISPLAY,
    canonical(
        string("type", "The kind of image."),
        &["photo", "thumbnail"],
    ),
    PRIMARY,
];

static ADDRESS_SUBS: [AttrDef; 8] = [
    string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    string("streetAddress", "The street address."),
    string("locality", "The city or locality."),
    string("region", "The state or region."),
    string("postalCode", "The postal code."),
    string("country", "The country, as an ISO 3166-1 alpha-2 code."),
    canonical(
        string("type", "The kind of address."),
        &["work", "home", "other"],
    ),
    PRIMARY,
];

static GROUPS_SUBS: [AttrDef; 4] = [
    read_only(string("value", "The id of the group.")),
    read_only(reference(
        "$ref",
        &["User", "Group"],
        "The URI of the group resource.",
    )),
    read_only(string("display", "The display name of the group.")),
    read_only(canonical(
        string("type", "Whether membership is direct or inherited."),
        &["direct", "indirect"],
    )),
];

static ENTITLEMENT_SUBS: [AttrDef; 4] = [
    string("value", "The entitlement."),
    DISPLAY,
    string("type", "The kind of entitlement."),
    PRIMARY,
];

static ROLE_SUBS: [AttrDef; 4] = [
    string("value", "The role."),
    DISPLAY,
    string("type", "The kind of role."),
    PRIMARY,
];

static X509_SUBS: [AttrDef; 4] = [
    attr(
        "value",
        AttrType::Binary,
        "The DER-encoded certificate, base64 encoded.",
    ),
    DISPLAY,
    string("type", "The kind of certificate."),
    PRIMARY,
];

static USER_ATTRS: [AttrDef; 21] = [
    {
        let mut a = required(string(
            "userName",
            "Unique identifier of the user, typically used to sign in.",
        ));
        a.uniqueness = Uniqueness::Server;
        a
    },
    complex("name", &NAME_SUBS, "The components of the user's name."),
    string("displayName", "The name of the user, suitable for display."),
    string("nickName", "The casual name of the user."),
    reference(
        "profileUrl",
        &["external"],
        "A URL of the user's online profile.",
    ),
    string("title", "The user's title, such as 'Vice President'."),
    string(
        "userType",
        "The relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "The user's preferred language (RFC 7231 Accept-Language).",
    ),
    string("locale", "The user's default location for localization."),
    string(
        "timezone",
        "The user's time zone, in IANA tz database format.",
    ),
    boolean("active", "Whether the user is administratively active."),
    {
        let mut a = string(
            "password",
            "The user's clear-text password; accepted but never stored nor returned.",
        );
        a.mutability = Mutability::WriteOnly;
        a.returned = Returned::Never;
        a
    },
    multi(complex(
        "emails",
        &EMAIL_SUBS,
        "Email addresses of the user.",
    )),
    multi(complex(
        "phoneNumbers",
        &PHONE_SUBS,
        "Phone numbers of the user.",
    )),
    multi(complex(
        "ims",
        &IM_SUBS,
        "Instant messaging addresses of the user.",
    )),
    multi(complex(
        "photos",
        &PHOTO_SUBS,
        "URLs of photos of the user.",
    )),
    multi(complex(
        "addresses",
        &ADDRESS_SUBS,
        "Physical mailing addresses of the user.",
    )),
    read_only(multi(complex(
        "groups",
        &GROUPS_SUBS,
        "The groups the user belongs to, maintained by the service provider.",
    ))),
    multi(complex(
        "entitlements",
        &ENTITLEMENT_SUBS,
        "Entitlements of the user.",
    )),
    multi(complex("roles", &ROLE_SUBS, "Roles of the user.")),
    multi(complex(
        "x509Certificates",
        &X509_SUBS,
        "Certificates issued to the user.",
    )),
];

pub(super) static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRS,
};

// ---- enterprise User extension -------------------------------------------

static MANAGER_SUBS: [AttrDef; 3] = [
    string("value", "The id of the manager's User resource."),
    reference("$ref", &["User"], "The URI of the manager's User resource."),
    read_only(string("displayName", "The display name of the manager.")),
];

static ENTERPRISE_ATTRS: [AttrDef; 6] = [
    string("employeeNumber", "Identifier assigned by the organization."),
    string("costCenter", "Name of a cost center."),
    string("organization", "Name of an organization."),
    string("division", "Name of a division."),
    string("department", "Name of a department."),
    complex("manager", &MANAGER_SUBS, "The user's manager."),
];

pub(super) static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_ATTRS,
};

// ---- dbt Labs User extension ---------------------------------------------

static DBT_ATTRS: [AttrDef; 1] = [strict(canonical(
    string("licenseType", "The dbt license assigned to the user."),
    &["developer", "analyst", "read_only", "it"],
))];

pub(super) static DBT_USER: SchemaDef = SchemaDef {
    id: DBT_USER_SCHEMA,
    name: "DbtLabsUser",
    description: "dbt Labs User",
    attributes: &DBT_ATTRS,
};

pub(super) static USER_EXTENSIONS: [&SchemaDef; 2] = [&ENTERPRISE_USER, &DBT_USER];

// ---- Group -------------------------------------------------------------

static MEMBER_SUBS: [AttrDef; 4] = [
    required(immutable(exact(string(
        "value",
        "The id of the member resource.",
    )))),
    // Writable (immutable, as RFC 7643 §8.7.1 says) so clients may send it; the
    // service keeps only `value` and renders `$ref` from it.
    immutable(reference(
        "$ref",
        &["User", "Group"],
        "The URI of the member resource.",
    )),
    read_only(string("display", "The display name of the member.")),
    strict(immutable(canonical(
        string("type", "The resource type of the member."),
        &["User", "Group"],
    ))),
];

static GROUP_ATTRS: [AttrDef; 2] = [
    required(string(
        "displayName",
        "A human-readable name for the group.",
    )),
    multi(complex(
        "members",
        &MEMBER_SUBS,
        "The members of the group.",
    )),
];

pub(super) static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRS,
};

pub(super) static ALL_SCHEMAS: [&SchemaDef; 4] = [&USER, &ENTERPRISE_USER, &DBT_USER, &GROUP];
