// Generated from qunping/operator/database_access.py by write_compose_script(); do not edit.
// Run once by the mongo image, as its root user, when the data volume is new.
const admin = db.getSiblingDB("admin");
admin.createRole({"role": "qunping-deployment-identity", "privileges": [{"resource": {"db": "qunping_deployment", "collection": "identity"}, "actions": ["find", "insert", "createCollection"]}], "roles": []});
admin.createUser(Object.assign({"user": "qunping-ballot", "roles": [{"role": "readWrite", "db": "qunping_ballot"}, {"role": "qunping-deployment-identity", "db": "admin"}]}, {pwd: process.env.QUNPING_BALLOT_MONGO_PASSWORD}));
admin.createUser(Object.assign({"user": "qunping-tally", "roles": [{"role": "readWrite", "db": "qunping_tally"}, {"role": "qunping-deployment-identity", "db": "admin"}]}, {pwd: process.env.QUNPING_TALLY_MONGO_PASSWORD}));
admin.createUser(Object.assign({"user": "qunping-notify", "roles": [{"role": "readWrite", "db": "qunping_notify"}, {"role": "qunping-deployment-identity", "db": "admin"}]}, {pwd: process.env.QUNPING_NOTIFY_MONGO_PASSWORD}));
admin.createUser(Object.assign({"user": "qunping-pledge", "roles": [{"role": "readWrite", "db": "qunping_pledge"}, {"role": "qunping-deployment-identity", "db": "admin"}]}, {pwd: process.env.QUNPING_PLEDGE_MONGO_PASSWORD}));
admin.createUser(Object.assign({"user": "qunping-audit", "roles": [{"role": "readWrite", "db": "qunping_audit_scratch"}, {"role": "qunping-deployment-identity", "db": "admin"}, {"role": "read", "db": "qunping_ballot"}, {"role": "read", "db": "qunping_tally"}, {"role": "read", "db": "qunping_notify"}, {"role": "read", "db": "qunping_pledge"}]}, {pwd: process.env.QUNPING_AUDIT_MONGO_PASSWORD}));
admin.createUser(Object.assign({"user": "qunping-gateway", "roles": [{"role": "readWrite", "db": "qunping_gateway"}, {"role": "qunping-deployment-identity", "db": "admin"}]}, {pwd: process.env.QUNPING_GATEWAY_MONGO_PASSWORD}));
