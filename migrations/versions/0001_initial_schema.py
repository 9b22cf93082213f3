"""Initial schema: the whole registry, the append-only audit trail and the first site.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("role = 'pharmacist' OR role = 'medical_director' OR role = 'inspector' OR role = 'admin'", name=op.f('ck_app_user_role_vocab')),
    sa.CheckConstraint('failed_attempts >= 0', name=op.f('ck_app_user_failed_attempts_nonneg')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_table('manufacturer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manufacturer')),
    sa.UniqueConstraint('name_key', name=op.f('uq_manufacturer_name_key'))
    )
    op.create_table('setting',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_setting'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('jurisdiction', sa.String(length=2), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('length(jurisdiction) = 2', name=op.f('ck_site_jurisdiction_code')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('code', name=op.f('uq_site_code'))
    )
    op.create_table('supplier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier')),
    sa.UniqueConstraint('name_key', name=op.f('uq_supplier_name_key'))
    )
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=80), nullable=True),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_audit_entry_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_audit_entry_entry_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_entry_prev_hash')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_entry_seq'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_entity', ['entity_type', 'entity_id'], unique=False)

    op.create_table('product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('product_type', sa.String(length=20), nullable=False),
    sa.Column('manufacturer_id', sa.Integer(), nullable=True),
    sa.Column('gtin', sa.String(length=14), nullable=True),
    sa.Column('presentation', sa.String(length=30), nullable=True),
    sa.Column('storage_form', sa.String(length=20), nullable=True),
    sa.Column('unit', sa.String(length=10), nullable=True),
    sa.Column('source', sa.String(length=30), nullable=True),
    sa.Column('source_description', sa.Text(), nullable=True),
    sa.Column('donor_use', sa.String(length=20), nullable=True),
    sa.Column('isolation_method', sa.String(length=40), nullable=True),
    sa.Column('pn_species', sa.String(length=30), nullable=True),
    sa.Column('spec_endotoxin_max', sa.Float(), nullable=True),
    sa.Column('spec_size_min_nm', sa.Float(), nullable=True),
    sa.Column('spec_size_max_nm', sa.Float(), nullable=True),
    sa.Column('spec_concentration_tolerance_pct', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("donor_use = 'allogeneic' OR donor_use = 'autologous'", name=op.f('ck_product_donor_use_vocab')),
    sa.CheckConstraint("isolation_method = 'ultracentrifugation' OR isolation_method = 'density_gradient' OR isolation_method = 'tangential_flow_filtration' OR isolation_method = 'ultrafiltration' OR isolation_method = 'size_exclusion' OR isolation_method = 'precipitation' OR isolation_method = 'immunoaffinity' OR isolation_method = 'other' OR isolation_method = 'unknown'", name=op.f('ck_product_isolation_method_vocab')),
    sa.CheckConstraint("pn_species = 'oncorhynchus_keta' OR pn_species = 'oncorhynchus_mykiss' OR pn_species = 'other' OR pn_species = 'unknown'", name=op.f('ck_product_pn_species_vocab')),
    sa.CheckConstraint("presentation = 'lyophilized_vial' OR presentation = 'frozen_vial' OR presentation = 'solution_vial' OR presentation = 'prefilled_syringe' OR presentation = 'topical_ampoule' OR presentation = 'topical_serum' OR presentation = 'kit' OR presentation = 'other'", name=op.f('ck_product_presentation_vocab')),
    sa.CheckConstraint("product_type = 'exosome' OR product_type = 'polynucleotide'", name=op.f('ck_product_product_type_vocab')),
    sa.CheckConstraint("source = 'msc_umbilical_cord' OR source = 'msc_whartons_jelly' OR source = 'msc_adipose' OR source = 'msc_bone_marrow' OR source = 'amniotic' OR source = 'placental' OR source = 'platelet' OR source = 'plant' OR source = 'milk' OR source = 'bacterial' OR source = 'fish' OR source = 'other' OR source = 'unknown'", name=op.f('ck_product_source_vocab')),
    sa.CheckConstraint("storage_form = 'lyophilized' OR storage_form = 'frozen' OR storage_form = 'refrigerated' OR storage_form = 'ambient'", name=op.f('ck_product_storage_form_vocab')),
    sa.CheckConstraint("unit = 'vial' OR unit = 'syringe' OR unit = 'ampoule' OR unit = 'kit' OR unit = 'ml'", name=op.f('ck_product_unit_vocab')),
    sa.CheckConstraint('gtin IS NULL OR length(gtin) BETWEEN 8 AND 14', name=op.f('ck_product_gtin_length')),
    sa.CheckConstraint('spec_concentration_tolerance_pct IS NULL OR spec_concentration_tolerance_pct >= 0', name=op.f('ck_product_spec_tolerance')),
    sa.CheckConstraint('spec_endotoxin_max IS NULL OR spec_endotoxin_max >= 0', name=op.f('ck_product_spec_endotoxin')),
    sa.CheckConstraint('spec_size_min_nm IS NULL OR spec_size_max_nm IS NULL OR spec_size_min_nm <= spec_size_max_nm', name=op.f('ck_product_spec_size_range')),
    sa.ForeignKeyConstraint(['manufacturer_id'], ['manufacturer.id'], name=op.f('fk_product_manufacturer_id_manufacturer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product')),
    sa.UniqueConstraint('name_key', name=op.f('uq_product_name_key'))
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_gtin'), ['gtin'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_manufacturer_id'), ['manufacturer_id'], unique=False)

    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('signer_name', sa.String(length=200), nullable=False),
    sa.Column('meaning', sa.String(length=20), nullable=False),
    sa.Column('subject_type', sa.String(length=30), nullable=False),
    sa.Column('subject_id', sa.String(length=80), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('signed_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("meaning = 'released' OR meaning = 'waived' OR meaning = 'overridden' OR meaning = 'approved' OR meaning = 'recalled'", name=op.f('ck_signature_meaning_vocab')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_signature_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature'))
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index('ix_signature_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('lot_number', sa.String(length=80), nullable=False),
    sa.Column('serial', sa.String(length=80), nullable=True),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('manufacture_date', sa.Date(), nullable=True),
    sa.Column('received_date', sa.Date(), nullable=False),
    sa.Column('received_by', sa.String(length=200), nullable=True),
    sa.Column('quantity_received', sa.Float(), nullable=False),
    sa.Column('quantity_administered', sa.Float(), server_default='0', nullable=False),
    sa.Column('quantity_destroyed', sa.Float(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('receipt_temperature_c', sa.Float(), nullable=True),
    sa.Column('package_intact', sa.Boolean(), nullable=True),
    sa.Column('donor_eligibility_ref', sa.String(length=200), nullable=True),
    sa.Column('coa_ref', sa.String(length=200), nullable=True),
    sa.Column('labelled_particles_per_ml', sa.Float(), nullable=True),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('release_signature_id', sa.Integer(), nullable=True),
    sa.Column('recall_date', sa.Date(), nullable=True),
    sa.Column('recall_reason', sa.Text(), nullable=True),
    sa.Column('destroyed_reason', sa.String(length=30), nullable=True),
    sa.Column('status_note', sa.Text(), nullable=True),
    sa.Column('import_batch', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("destroyed_reason = 'expired' OR destroyed_reason = 'temperature_excursion' OR destroyed_reason = 'damaged' OR destroyed_reason = 'recalled' OR destroyed_reason = 'contaminated' OR destroyed_reason = 'other'", name=op.f('ck_lot_destroyed_reason_vocab')),
    sa.CheckConstraint("status <> 'destroyed' OR destroyed_reason IS NOT NULL", name=op.f('ck_lot_destroy_has_reason')),
    sa.CheckConstraint("status <> 'recalled' OR recall_date IS NOT NULL", name=op.f('ck_lot_recall_has_date')),
    sa.CheckConstraint("status = 'quarantine' OR status = 'released' OR status = 'depleted' OR status = 'recalled' OR status = 'rejected' OR status = 'destroyed'", name=op.f('ck_lot_status_vocab')),
    sa.CheckConstraint('labelled_particles_per_ml IS NULL OR labelled_particles_per_ml > 0', name=op.f('ck_lot_labelled_claim')),
    sa.CheckConstraint('length(lot_number) > 0', name=op.f('ck_lot_lot_number_present')),
    sa.CheckConstraint('quantity_administered >= 0', name=op.f('ck_lot_quantity_administered_nonneg')),
    sa.CheckConstraint('quantity_destroyed >= 0', name=op.f('ck_lot_quantity_destroyed_nonneg')),
    sa.CheckConstraint('quantity_received > 0', name=op.f('ck_lot_quantity_received_positive')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_lot_product_id_product')),
    sa.ForeignKeyConstraint(['release_signature_id'], ['signature.id'], name=op.f('fk_lot_release_signature_id_signature')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_lot_site_id_site')),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name=op.f('fk_lot_supplier_id_supplier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lot')),
    sa.UniqueConstraint('product_id', 'lot_number', name=op.f('uq_lot_product_id_lot_number'))
    )
    with op.batch_alter_table('lot', schema=None) as batch_op:
        batch_op.create_index('ix_lot_expiry_date', ['expiry_date'], unique=False)
        batch_op.create_index('ix_lot_lot_number', ['lot_number'], unique=False)
        batch_op.create_index('ix_lot_received_date', ['received_date'], unique=False)
        batch_op.create_index('ix_lot_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_lot_supplier_id'), ['supplier_id'], unique=False)

    op.create_table('product_route',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('route', sa.String(length=40), nullable=False),
    sa.CheckConstraint("route = 'topical_intact' OR route = 'topical_post_microneedling' OR route = 'topical_post_fractional_laser' OR route = 'topical_post_rf_microneedling' OR route = 'intradermal' OR route = 'subdermal' OR route = 'scalp_injection' OR route = 'intravenous'", name=op.f('ck_product_route_route_vocab')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_product_route_product_id_product')),
    sa.PrimaryKeyConstraint('product_id', 'route', name=op.f('pk_product_route'))
    )
    op.create_table('waiver',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('flag_message', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('signature_id', sa.Integer(), nullable=False),
    sa.Column('waived_by_id', sa.Integer(), nullable=False),
    sa.Column('waived_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("subject_type = 'product' OR subject_type = 'lot' OR subject_type = 'administration' OR subject_type = 'adverse_event'", name=op.f('ck_waiver_subject_type_vocab')),
    sa.CheckConstraint('length(reason) > 0', name=op.f('ck_waiver_reason_present')),
    sa.ForeignKeyConstraint(['signature_id'], ['signature.id'], name=op.f('fk_waiver_signature_id_signature')),
    sa.ForeignKeyConstraint(['waived_by_id'], ['app_user.id'], name=op.f('fk_waiver_waived_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waiver'))
    )
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.create_index('ix_waiver_subject', ['code', 'subject_type', 'subject_id'], unique=False)

    op.create_table('administration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('administered_at', sa.DateTime(), nullable=False),
    sa.Column('patient_ref', sa.String(length=80), nullable=True),
    sa.Column('route', sa.String(length=40), nullable=False),
    sa.Column('body_areas', sa.String(length=200), nullable=True),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.Column('volume_ml', sa.Float(), nullable=True),
    sa.Column('practitioner', sa.String(length=200), nullable=True),
    sa.Column('device_procedure', sa.String(length=200), nullable=True),
    sa.Column('ind_reference', sa.String(length=100), nullable=True),
    sa.Column('screening_done', sa.Boolean(), nullable=True),
    sa.Column('contraindications', sa.String(length=300), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('override_signature_id', sa.Integer(), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('patient_notified_on', sa.Date(), nullable=True),
    sa.Column('notified_how', sa.String(length=200), nullable=True),
    sa.Column('amends_id', sa.Integer(), nullable=True),
    sa.Column('amendment_reason', sa.Text(), nullable=True),
    sa.Column('superseded', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('voided_at', sa.DateTime(), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('import_batch', sa.String(length=64), nullable=True),
    sa.CheckConstraint("route = 'topical_intact' OR route = 'topical_post_microneedling' OR route = 'topical_post_fractional_laser' OR route = 'topical_post_rf_microneedling' OR route = 'intradermal' OR route = 'subdermal' OR route = 'scalp_injection' OR route = 'intravenous'", name=op.f('ck_administration_route_vocab')),
    sa.CheckConstraint('quantity IS NULL OR quantity > 0', name=op.f('ck_administration_quantity_positive')),
    sa.CheckConstraint('volume_ml IS NULL OR volume_ml > 0', name=op.f('ck_administration_volume_positive')),
    sa.ForeignKeyConstraint(['amends_id'], ['administration.id'], name=op.f('fk_administration_amends_id_administration')),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_administration_lot_id_lot')),
    sa.ForeignKeyConstraint(['override_signature_id'], ['signature.id'], name=op.f('fk_administration_override_signature_id_signature')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id'], name=op.f('fk_administration_recorded_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_administration'))
    )
    with op.batch_alter_table('administration', schema=None) as batch_op:
        batch_op.create_index('ix_administration_administered_at', ['administered_at'], unique=False)
        batch_op.create_index('ix_administration_lot_id_administered_at', ['lot_id', 'administered_at'], unique=False)
        batch_op.create_index('ix_administration_patient_ref', ['patient_ref'], unique=False)

    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('file_name', sa.String(length=260), nullable=True),
    sa.Column('media_type', sa.String(length=100), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind = 'coa' OR kind = 'regulatory_certificate' OR kind = 'donor_eligibility' OR kind = 'ifu' OR kind = 'other'", name=op.f('ck_document_kind_vocab')),
    sa.CheckConstraint('content IS NOT NULL OR reference IS NOT NULL', name=op.f('ck_document_content_or_reference')),
    sa.CheckConstraint('content IS NULL OR (sha256 IS NOT NULL AND size_bytes IS NOT NULL)', name=op.f('ck_document_content_hashed')),
    sa.CheckConstraint('product_id IS NOT NULL OR lot_id IS NOT NULL', name=op.f('ck_document_has_subject')),
    sa.CheckConstraint('size_bytes IS NULL OR size_bytes >= 0', name=op.f('ck_document_size_nonneg')),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_document_lot_id_lot')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_document_product_id_product')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['document.id'], name=op.f('fk_document_supersedes_id_document')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['app_user.id'], name=op.f('fk_document_uploaded_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index('ix_document_lot_id', ['lot_id'], unique=False)
        batch_op.create_index('ix_document_product_id', ['product_id'], unique=False)

    op.create_table('temperature_excursion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('reading_c', sa.Float(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('resolution', sa.String(length=20), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("resolution = 'use' OR resolution = 'quarantine' OR resolution = 'destroy'", name=op.f('ck_temperature_excursion_resolution_vocab')),
    sa.CheckConstraint('duration_minutes IS NULL OR duration_minutes >= 0', name=op.f('ck_temperature_excursion_duration_nonneg')),
    sa.CheckConstraint('resolution IS NULL OR resolved_at IS NOT NULL', name=op.f('ck_temperature_excursion_resolution_dated')),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_temperature_excursion_lot_id_lot')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['app_user.id'], name=op.f('fk_temperature_excursion_resolved_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_temperature_excursion'))
    )
    with op.batch_alter_table('temperature_excursion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_temperature_excursion_lot_id'), ['lot_id'], unique=False)

    op.create_table('adverse_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('administration_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=30), nullable=False),
    sa.Column('onset_date', sa.Date(), nullable=True),
    sa.Column('severity', sa.String(length=20), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('report_status', sa.String(length=30), nullable=False),
    sa.Column('report_reference', sa.String(length=200), nullable=True),
    sa.Column('not_reportable_reason', sa.Text(), nullable=True),
    sa.Column('reported_on', sa.Date(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("event_type = 'erythema' OR event_type = 'swelling' OR event_type = 'bruising' OR event_type = 'papule' OR event_type = 'delayed_nodule_granuloma' OR event_type = 'necrosis' OR event_type = 'infection' OR event_type = 'hypersensitivity' OR event_type = 'other'", name=op.f('ck_adverse_event_event_type_vocab')),
    sa.CheckConstraint("report_status <> 'not_reportable' OR not_reportable_reason IS NOT NULL", name=op.f('ck_adverse_event_not_reportable_reason')),
    sa.CheckConstraint("report_status = 'not_reported' OR report_status = 'reported_manufacturer' OR report_status = 'reported_regulator' OR report_status = 'not_reportable'", name=op.f('ck_adverse_event_report_status_vocab')),
    sa.CheckConstraint("severity = 'mild' OR severity = 'moderate' OR severity = 'severe' OR severity = 'serious'", name=op.f('ck_adverse_event_severity_vocab')),
    sa.ForeignKeyConstraint(['administration_id'], ['administration.id'], name=op.f('fk_adverse_event_administration_id_administration')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id'], name=op.f('fk_adverse_event_recorded_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adverse_event'))
    )
    with op.batch_alter_table('adverse_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adverse_event_administration_id'), ['administration_id'], unique=False)

    op.create_table('characterization_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('parameter', sa.String(length=30), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.Column('marker', sa.String(length=20), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.Column('result', sa.String(length=20), nullable=True),
    sa.Column('measured_by', sa.String(length=20), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('source_ref', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('voided_at', sa.DateTime(), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("marker = 'cd9' OR marker = 'cd63' OR marker = 'cd81' OR marker = 'integrin' OR marker = 'mfge8' OR marker = 'tsg101' OR marker = 'alix' OR marker = 'syntenin' OR marker = 'annexin' OR marker = 'hsp70' OR marker = 'calnexin' OR marker = 'grp94' OR marker = 'gm130' OR marker = 'histone' OR marker = 'argonaute' OR marker = 'apoa1' OR marker = 'apob'", name=op.f('ck_characterization_result_marker_vocab')),
    sa.CheckConstraint("measured_by = 'manufacturer' OR measured_by = 'independent_lab'", name=op.f('ck_characterization_result_measured_by_vocab')),
    sa.CheckConstraint("method = 'afm' OR method = 'bca' OR method = 'bradford' OR method = 'cryo_em' OR method = 'culture' OR method = 'dls' OR method = 'elisa' OR method = 'flow' OR method = 'gel' OR method = 'lal' OR method = 'mass_spec' OR method = 'nano_flow' OR method = 'nta' OR method = 'other' OR method = 'ph_eur_2_6_1' OR method = 'qpcr' OR method = 'rfc' OR method = 'sec' OR method = 'tem' OR method = 'trps' OR method = 'usp71' OR method = 'uv' OR method = 'western_blot'", name=op.f('ck_characterization_result_method_vocab')),
    sa.CheckConstraint("parameter <> 'marker' OR marker IS NOT NULL", name=op.f('ck_characterization_result_marker_named')),
    sa.CheckConstraint("parameter = 'particle_concentration' OR parameter = 'size_mode' OR parameter = 'size_mean' OR parameter = 'size_d90' OR parameter = 'protein_concentration' OR parameter = 'lipid_concentration' OR parameter = 'marker' OR parameter = 'imaging' OR parameter = 'sterility' OR parameter = 'endotoxin' OR parameter = 'mycoplasma' OR parameter = 'dna_concentration' OR parameter = 'molecular_weight' OR parameter = 'protein_impurity'", name=op.f('ck_characterization_result_parameter_vocab')),
    sa.CheckConstraint("result = 'detected' OR result = 'fail' OR result = 'negative' OR result = 'not_detected' OR result = 'pass' OR result = 'performed' OR result = 'positive'", name=op.f('ck_characterization_result_result_vocab')),
    sa.CheckConstraint('value IS NOT NULL OR result IS NOT NULL', name=op.f('ck_characterization_result_value_or_result')),
    sa.CheckConstraint('value IS NULL OR value >= 0', name=op.f('ck_characterization_result_value_nonneg')),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_characterization_result_document_id_document')),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_characterization_result_lot_id_lot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_characterization_result'))
    )
    with op.batch_alter_table('characterization_result', schema=None) as batch_op:
        batch_op.create_index('ix_characterization_result_lot_parameter', ['lot_id', 'parameter'], unique=False)

    op.create_table('lot_result_facts',
    sa.Column('lot_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ev_particles', sa.Integer(), nullable=False),
    sa.Column('ev_second_quant', sa.Integer(), nullable=False),
    sa.Column('ev_transmembrane', sa.Integer(), nullable=False),
    sa.Column('ev_cytosolic', sa.Integer(), nullable=False),
    sa.Column('ev_contaminant_tested', sa.Integer(), nullable=False),
    sa.Column('ev_imaging', sa.Integer(), nullable=False),
    sa.Column('pn_dna', sa.Integer(), nullable=False),
    sa.Column('pn_mw', sa.Integer(), nullable=False),
    sa.Column('has_sterility', sa.Integer(), nullable=False),
    sa.Column('has_endotoxin', sa.Integer(), nullable=False),
    sa.Column('has_mycoplasma', sa.Integer(), nullable=False),
    sa.Column('sterility_fail', sa.Integer(), nullable=False),
    sa.Column('mycoplasma_positive', sa.Integer(), nullable=False),
    sa.Column('contaminants_detected', sa.Integer(), nullable=False),
    sa.Column('endotoxin_max', sa.Float(), nullable=True),
    sa.Column('size_min', sa.Float(), nullable=True),
    sa.Column('size_max', sa.Float(), nullable=True),
    sa.Column('particles_min', sa.Float(), nullable=True),
    sa.Column('particles_max', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['lot_id'], ['lot.id'], name=op.f('fk_lot_result_facts_lot_id_lot')),
    sa.PrimaryKeyConstraint('lot_id', name=op.f('pk_lot_result_facts'))
    )

    op.create_table('product_regulatory_status',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('evidence_document_id', sa.Integer(), nullable=True),
    sa.Column('verified_on', sa.Date(), nullable=True),
    sa.Column('verified_by', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status = 'approved_biologic' OR status = 'investigational' OR status = 'device_registered' OR status = 'cosmetic' OR status = 'hctp_361_claim' OR status = 'research_use_only' OR status = 'not_authorized' OR status = 'unknown'", name=op.f('ck_product_regulatory_status_status_vocab')),
    sa.CheckConstraint('length(jurisdiction) = 2', name=op.f('ck_product_regulatory_status_jurisdiction_code')),
    sa.ForeignKeyConstraint(['evidence_document_id'], ['document.id'], name=op.f('fk_product_regulatory_status_evidence_document_id_document')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_product_regulatory_status_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_regulatory_status')),
    sa.UniqueConstraint('product_id', 'jurisdiction', name=op.f('uq_product_regulatory_status_product_id_jurisdiction'))
    )

    create_audit_guards()
    op.execute("INSERT INTO site (code, name, jurisdiction, created_at) VALUES ('main', 'My clinic', 'US', CURRENT_TIMESTAMP)")
    op.execute("INSERT INTO setting (key, value) VALUES ('audit_head', '0:" + "0" * 64 + "')")


def downgrade() -> None:
    drop_audit_guards()
    op.drop_table('product_regulatory_status')
    op.drop_table('lot_result_facts')
    with op.batch_alter_table('characterization_result', schema=None) as batch_op:
        batch_op.drop_index('ix_characterization_result_lot_parameter')

    op.drop_table('characterization_result')
    with op.batch_alter_table('adverse_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adverse_event_administration_id'))

    op.drop_table('adverse_event')
    with op.batch_alter_table('temperature_excursion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_temperature_excursion_lot_id'))

    op.drop_table('temperature_excursion')
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index('ix_document_product_id')
        batch_op.drop_index('ix_document_lot_id')

    op.drop_table('document')
    with op.batch_alter_table('administration', schema=None) as batch_op:
        batch_op.drop_index('ix_administration_patient_ref')
        batch_op.drop_index('ix_administration_lot_id_administered_at')
        batch_op.drop_index('ix_administration_administered_at')

    op.drop_table('administration')
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.drop_index('ix_waiver_subject')

    op.drop_table('waiver')
    op.drop_table('product_route')
    with op.batch_alter_table('lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lot_supplier_id'))
        batch_op.drop_index('ix_lot_status')
        batch_op.drop_index('ix_lot_received_date')
        batch_op.drop_index('ix_lot_lot_number')
        batch_op.drop_index('ix_lot_expiry_date')

    op.drop_table('lot')
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index('ix_signature_subject')

    op.drop_table('signature')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_manufacturer_id'))
        batch_op.drop_index(batch_op.f('ix_product_gtin'))

    op.drop_table('product')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_entity')

    op.drop_table('audit_entry')
    op.drop_table('supplier')
    op.drop_table('site')
    op.drop_table('setting')
    op.drop_table('manufacturer')
    op.drop_table('app_user')


APPEND_ONLY = "the audit trail is append-only"


def create_audit_guards() -> None:
    """The database itself refuses UPDATE and DELETE on the audit trail (21 CFR 11.10(e))."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entry "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
    )


def drop_audit_guards() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
    op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")
