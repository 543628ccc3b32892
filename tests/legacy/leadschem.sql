-- The LeadSchem schema as its `create_all` produced it (/work/shared/legacy-leadschem.md §1), for the importer's tests
-- and bench/import_leadschem.py. Defaults that the old ORM set on the Python side are spelled out by the inserts.
CREATE TABLE cities (id serial PRIMARY KEY, name varchar(100) NOT NULL UNIQUE);
CREATE TABLE request_types (id serial PRIMARY KEY, name varchar(50) NOT NULL UNIQUE);
CREATE TABLE directions (id serial PRIMARY KEY, name varchar(50) NOT NULL UNIQUE);
CREATE TABLE roles (id serial PRIMARY KEY, name varchar(50) NOT NULL UNIQUE);
CREATE TABLE transaction_types (id serial PRIMARY KEY, name varchar(50) NOT NULL UNIQUE);
CREATE TABLE advertising_campaigns (
    id serial PRIMARY KEY,
    city_id integer NOT NULL REFERENCES cities(id),
    name varchar(200) NOT NULL,
    phone_number varchar(20) NOT NULL,
    created_at timestamptz DEFAULT now()
);
CREATE TABLE masters (
    id serial PRIMARY KEY,
    city_id integer NOT NULL REFERENCES cities(id),
    full_name varchar(200) NOT NULL,
    phone_number varchar(20) NOT NULL,
    birth_date date,
    passport varchar(20),
    status varchar(50),
    chat_id varchar(100),
    login varchar(100) NOT NULL UNIQUE,
    password_hash varchar(255) NOT NULL,
    notes text,
    created_at timestamptz DEFAULT now()
);
CREATE TABLE employees (
    id serial PRIMARY KEY,
    name varchar(200) NOT NULL,
    role_id integer NOT NULL REFERENCES roles(id),
    status varchar(50),
    city_id integer REFERENCES cities(id),
    login varchar(100) NOT NULL UNIQUE,
    password_hash varchar(255) NOT NULL,
    notes text,
    created_at timestamptz DEFAULT now()
);
CREATE TABLE administrators (
    id serial PRIMARY KEY,
    name varchar(200) NOT NULL,
    role_id integer NOT NULL REFERENCES roles(id),
    status varchar(50),
    login varchar(100) NOT NULL UNIQUE,
    password_hash varchar(255) NOT NULL,
    notes text,
    created_at timestamptz DEFAULT now()
);
CREATE TABLE requests (
    id serial PRIMARY KEY,
    advertising_campaign_id integer REFERENCES advertising_campaigns(id),
    city_id integer NOT NULL REFERENCES cities(id),
    request_type_id integer NOT NULL REFERENCES request_types(id),
    client_phone varchar(20) NOT NULL,
    client_name varchar(200),
    address text,
    meeting_date timestamptz,
    direction_id integer REFERENCES directions(id),
    problem text,
    status varchar(50),
    master_id integer REFERENCES masters(id),
    master_notes text,
    result numeric(10, 2),
    expenses numeric(10, 2),
    net_amount numeric(10, 2),
    master_handover numeric(10, 2),
    ats_number varchar(50),
    call_center_name varchar(200),
    call_center_notes text,
    bso_file_path varchar(500),
    expense_file_path varchar(500),
    recording_file_path varchar(500),
    avito_chat_id varchar(100),
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz
);
CREATE TABLE transactions (
    id serial PRIMARY KEY,
    city_id integer NOT NULL REFERENCES cities(id),
    transaction_type_id integer NOT NULL REFERENCES transaction_types(id),
    amount numeric(10, 2) NOT NULL,
    notes text,
    file_path varchar(500),
    specified_date date NOT NULL,
    payment_reason text,
    expense_receipt_path text,
    created_at timestamptz DEFAULT now()
);
CREATE TABLE files (
    id serial PRIMARY KEY,
    request_id integer REFERENCES requests(id) ON DELETE CASCADE,
    transaction_id integer REFERENCES transactions(id) ON DELETE CASCADE,
    file_type varchar(50) NOT NULL,
    file_path varchar(500) NOT NULL,
    uploaded_at timestamptz DEFAULT now(),
    CONSTRAINT check_reference CHECK ((request_id IS NULL) <> (transaction_id IS NULL))
);
